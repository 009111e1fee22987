"""Notification pages: a user's channels and quiet hours, a department's group bot (its head on the
settings page, admins on the department page) with its errors and test message, and 后台任务."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from engine.bpmn.deploy import deploy
from engine.notify import deliver_due, dispatch_pending
from engine.notify.bots import get_bot
from engine.notify.preferences import get_preferences
from engine.workflow.instances import start_instance
from tests.conftest import fixture_files
from tests.delivery_receivers import WebhookReceiver
from tests.webui.conftest import csrf_of, sign_in

FEISHU_SECRET = "feishuSecret123"


@pytest.fixture
def receiver(ctx):
    ctx.config.webhook_any_host = True
    with WebhookReceiver({"feishu": FEISHU_SECRET}) as found:
        yield found


def _signed_in(app, user: str):
    client = app.test_client()
    sign_in(client, user)
    return client


def _field_error(html: str, field: str) -> str:
    found = re.search(rf'data-field="{field}"(?:(?!data-field=).)*?<p class="error"[^>]*>([^<]+)</p>', html, re.S)
    assert found, f"no error shown at the field {field}"
    return found.group(1)


def test_a_user_chooses_email_for_reminders_and_quiet_hours(app, ctx):
    client = _signed_in(app, "xiaowang")
    page = client.get("/settings").get_data(as_text=True)
    assert 'data-section="notices"' in page and 'data-kind="reminder"' in page
    assert not re.search(r'name="email_reminder" value="1"[^>]*checked', page)  # not by default
    form = {"csrf_token": csrf_of(page), "email_reminder": "1", "email_urge": "1", "bot_urge": "1",
            "quiet_start": "22:00", "quiet_end": "08:00"}
    assert client.post("/settings/notifications", data=form).status_code == 302
    prefs = get_preferences(ctx, "xiaowang")
    assert (prefs.email, prefs.bot, prefs.quiet_start, prefs.quiet_end) == ({"reminder", "urge"}, {"urge"},
                                                                             "22:00", "08:00")
    page = client.get("/settings").get_data(as_text=True)
    assert re.search(r'name="email_reminder" value="1"[^>]*checked', page)
    assert 'value="22:00"' in page


def test_wrong_quiet_hours_are_named_at_their_field_and_nothing_is_stored(app, ctx):
    client = _signed_in(app, "xiaowang")
    token = csrf_of(client.get("/settings").get_data(as_text=True))
    answer = client.post("/settings/notifications", data={"csrf_token": token, "email_reminder": "1",
                                                          "quiet_start": "22:00", "quiet_end": ""})
    assert answer.status_code == 400
    assert "同时填写" in _field_error(answer.get_data(as_text=True), "quiet_end")
    answer = client.post("/settings/notifications", data={"csrf_token": token, "quiet_start": "7pm",
                                                          "quiet_end": "08:00"})
    assert "22:00" in _field_error(answer.get_data(as_text=True), "quiet_start")
    assert get_preferences(ctx, "xiaowang").email == {"task", "return", "urge", "escalation", "red_warning"}


def test_a_head_sets_the_department_bot_with_errors_at_their_fields(app, ctx, receiver):
    client = _signed_in(app, "zhangzongjian")  # head of 市场部
    page = client.get("/settings").get_data(as_text=True)
    assert 'data-bot-dept="MKT"' in page
    token = csrf_of(page)
    bad = client.post("/settings/bot/MKT", data={"csrf_token": token, "platform": "dingtalk",
                                                 "webhook_url": "ftp://example.com/x", "secret": "nope",
                                                 "kinds": ["urge"], "enabled": "1"})
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    assert "http" in _field_error(html, "webhook_url") and "SEC" in _field_error(html, "secret")
    assert get_bot(ctx, "MKT") is None
    ok = client.post("/settings/bot/MKT", data={"csrf_token": token, "platform": "feishu",
                                                "webhook_url": receiver.url("feishu"), "secret": FEISHU_SECRET,
                                                "kinds": ["urge", "red_warning"], "enabled": "1"})
    assert ok.status_code == 302
    bot = get_bot(ctx, "MKT")
    assert (bot.platform, bot.secret, bot.kinds, bot.enabled) == ("feishu", FEISHU_SECRET, ["urge", "red_warning"],
                                                                  True)
    page = client.get("/settings").get_data(as_text=True)
    assert FEISHU_SECRET not in page and "abc-123" not in page  # neither the secret nor the URL's token
    assert re.search(r'data-bot-secret>fei•+23<', page)
    tested = client.post("/settings/bot/MKT/test", data={"csrf_token": token}, follow_redirects=True)
    assert "测试消息已发送" in tested.get_data(as_text=True)
    [text] = receiver.texts("feishu")
    assert "市场部" in text and receiver.refused == []
    other = _signed_in(app, "xiaowang")  # not a head: the form is not there, posts are refused
    assert 'data-bot-dept' not in other.get("/settings").get_data(as_text=True)
    assert other.post("/settings/bot/MKT", data={"csrf_token": csrf_of(other.get("/settings").get_data(
        as_text=True)), "platform": "wecom"}).status_code == 404


def test_a_failed_test_message_says_what_the_platform_answered(app, ctx, receiver):
    admin = _signed_in(app, "lijingli")
    token = csrf_of(admin.get("/admin/org/PRD").get_data(as_text=True))
    assert admin.post("/admin/org/PRD/bot", data={"csrf_token": token, "platform": "feishu",
                                                  "webhook_url": receiver.url("feishu"), "secret": "wrongSecret1",
                                                  "kinds": ["urge"]}).status_code == 302
    answer = admin.post("/admin/org/PRD/bot/test", data={"csrf_token": token}, follow_redirects=True)
    assert "19021" in answer.get_data(as_text=True) and receiver.texts() == []
    assert get_bot(ctx, "PRD").enabled is False  # not ticked


def test_admins_set_any_department_bot_and_auditors_only_read_it(app, ctx):
    admin = _signed_in(app, "lijingli")
    page = admin.get("/admin/org/SAL").get_data(as_text=True)
    assert 'data-form="bot"' in page
    bad = admin.post("/admin/org/SAL/bot", data={"csrf_token": csrf_of(page), "platform": "wecom",
                                                 "webhook_url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send",
                                                 "kinds": ["urge"], "enabled": "1"})
    assert bad.status_code == 400 and "key=" in _field_error(bad.get_data(as_text=True), "webhook_url")
    url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx"
    assert admin.post("/admin/org/SAL/bot", data={"csrf_token": csrf_of(page), "platform": "wecom", "webhook_url": url,
                                                  "kinds": ["urge"], "enabled": "1"}).status_code == 302
    assert get_bot(ctx, "SAL").webhook_url == url
    auditor = _signed_in(app, "shenjie")
    page = auditor.get("/admin/org/SAL").get_data(as_text=True)
    assert 'data-bot-status' in page and 'data-form="bot"' not in page and "693a91f6-7xxx" not in page
    assert auditor.post("/admin/org/SAL/bot", data={"csrf_token": csrf_of(page), "platform": "wecom",
                                                    "webhook_url": url}).status_code == 403


def test_the_jobs_page_lists_timers_and_deliveries_and_admins_retry_failed_ones(app, ctx, clock):
    deploy(ctx, fixture_files("notify_kinds.bpmn"), "lijingli")
    started = start_instance(ctx, "notify_kinds", "lijingli", {"people": ["xiaowang", "songyu"], "kind": "urge",
                                                               "message": "周报请今天交", "owner": "xiaowang"})
    ctx.config.webhook_any_host = True  # a bot nobody answers at: every attempt fails
    admin = _signed_in(app, "lijingli")
    token = csrf_of(admin.get("/admin/org/MKT").get_data(as_text=True))
    admin.post("/admin/org/MKT/bot", data={"csrf_token": token, "platform": "wecom", "enabled": "1", "kinds": ["urge"],
                                           "webhook_url": "http://127.0.0.1:9/cgi-bin/webhook/send?key=k"})
    dispatch_pending(ctx)
    page = admin.get("/admin/jobs").get_data(as_text=True)
    assert 'data-admin-tab="jobs"' in page
    assert re.search(rf'data-instance="{started.instance_id}".*?data-timer="RemindLater"', page, re.S)
    pending = re.search(r'data-deliveries="pending">(.*?)</table>', page, re.S).group(1)
    assert "市场部" in pending and "小王、宋雨" in pending and "周报请今天交" in pending
    at = clock.now
    for _ in range(6):
        deliver_due(ctx, at)
        at += timedelta(hours=7)
    page = admin.get("/admin/jobs").get_data(as_text=True)
    failed = re.search(r'data-deliveries="failed">(.*?)</table>', page, re.S).group(1)
    assert "did not answer" in failed and re.search(r"<td>6</td>", failed)
    assert "1 条发送失败" in admin.get("/admin/").get_data(as_text=True)
    delivery = re.search(r'data-delivery="(\d+)"', failed).group(1)
    auditor = _signed_in(app, "shenjie")
    read = auditor.get("/admin/jobs").get_data(as_text=True)
    assert f'data-delivery="{delivery}"' in read and "/retry" not in read
    assert auditor.post(f"/admin/jobs/deliveries/{delivery}/retry",
                        data={"csrf_token": csrf_of(read)}).status_code == 403
    assert _signed_in(app, "xiaowang").get("/admin/jobs").status_code == 403
    token = csrf_of(page)
    assert admin.post(f"/admin/jobs/deliveries/{delivery}/retry", data={"csrf_token": token}).status_code == 302
    page = admin.get("/admin/jobs").get_data(as_text=True)
    assert f'data-delivery="{delivery}"' in re.search(r'data-deliveries="pending">(.*?)</table>', page, re.S).group(1)
    assert admin.post(f"/admin/jobs/deliveries/{delivery}/retry", data={"csrf_token": token}).status_code == 404
    for _ in range(6):
        deliver_due(ctx, at)
        at += timedelta(hours=7)
    answer = admin.post("/admin/jobs/deliveries/retry-failed", data={"csrf_token": token}, follow_redirects=True)
    assert "1 条发送失败的通知已重新排队" in answer.get_data(as_text=True)


def test_the_jobs_page_shows_each_periodic_job_with_its_last_run_and_error(app, ctx, clock):
    from engine.background import PERIODIC, Periodic, tick

    admin = _signed_in(app, "lijingli")
    page = admin.get("/admin/jobs").get_data(as_text=True)
    row = re.search(r'data-job="audit_anchor">(.*?)</tr>', page, re.S).group(1)
    assert "审计链锚定" in row and "1 小时" in row and "尚未运行" in row and "立即" in row

    def broken(services):
        raise RuntimeError("disk full")

    tick(ctx, periodic=tuple(j for j in PERIODIC if j.name == "audit_anchor"))
    tick(ctx, periodic=(Periodic("analytics_refresh", timedelta(minutes=1), broken),))
    page = admin.get("/admin/jobs").get_data(as_text=True)
    anchor = re.search(r'data-job="audit_anchor">(.*?)</tr>', page, re.S).group(1)
    assert "尚未运行" not in anchor and '<td class="error"></td>' in anchor
    refresh = re.search(r'data-job="analytics_refresh">(.*?)</tr>', page, re.S).group(1)
    assert "看板数据刷新" in refresh and "RuntimeError: disk full" in refresh
