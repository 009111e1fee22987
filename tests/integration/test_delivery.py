"""Notifications beyond the app: outbox dispatch, email over SMTP, group bots with their signatures,
rate limits and digests, backoff, quiet hours, leases, and exactly-once sending under concurrency."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from engine.bpmn.deploy import deploy
from engine.db.models import Notification, NotificationDelivery
from engine.errors import FormInvalid, InvalidInput, PermissionDenied
from engine.notify import deliver_due, dispatch_pending
from engine.notify.bots import check_bot, get_bot, mask, send_test_message, set_bot
from engine.notify.jobs import list_deliveries, retry_delivery, retry_failed, scheduled_timers
from engine.notify.preferences import get_preferences, set_preferences
from engine.notify.sender import _claim
from engine.org.importer import import_org, parse_yaml
from engine.workflow.instances import start_instance
from tests.conftest import fixture_files
from tests.delivery_receivers import SmtpServer, WebhookReceiver

ORG = """
departments:
  - {id: MKT, name: 市场部, head: boss}
  - {id: PRD, name: 产品部, head: chen}
users:
  - {id: boss, name: 张总监, department: MKT, email: boss@example.com, roles: [platform_admin]}
  - {id: wang, name: 小王, department: MKT, email: wang@example.com}
  - {id: li, name: 小李, department: MKT, email: li@example.com}
  - {id: chen, name: 陈总监, department: PRD, email: chen@example.com}
"""
DING_SECRET = "SEC" + "a1b2c3d4" * 8
FEISHU_SECRET = "feishuSecret123"


@pytest.fixture
def org(ctx):
    import_org(ctx, parse_yaml(ORG), "setup", bootstrap=True)
    deploy(ctx, fixture_files("notify_kinds.bpmn"), "boss")
    ctx.config.base_url = "https://xz.example.com"
    return ctx


@pytest.fixture
def smtp(ctx):
    with SmtpServer() as server:
        ctx.config.smtp_host, ctx.config.smtp_port, ctx.config.smtp_starttls = "127.0.0.1", server.port, False
        yield server


@pytest.fixture
def receiver(ctx):
    ctx.config.webhook_any_host = True
    with WebhookReceiver({"dingtalk": DING_SECRET, "feishu": FEISHU_SECRET}) as found:
        yield found


def tell(ctx, people, kind="urge", message="请尽快处理", owner="wang"):
    """A command that notifies `people`; returns the new instance id."""
    return start_instance(ctx, "notify_kinds", "boss", {"people": people, "kind": kind, "message": message,
                                                        "owner": owner}).instance_id


def deliveries(ctx, **where) -> list[NotificationDelivery]:
    with ctx.db.read() as s:
        q = select(NotificationDelivery).order_by(NotificationDelivery.id)
        for key, value in where.items():
            q = q.where(getattr(NotificationDelivery, key) == value)
        rows = list(s.scalars(q))
        s.expunge_all()  # kept as read, after the read's rollback
        return rows


def run_all(ctx, now=None) -> int:
    dispatch_pending(ctx, now)
    return deliver_due(ctx, now)


# ---------------------------------------------------------------------------------- email
def test_an_urge_is_emailed_with_a_link_to_the_task(org, smtp, clock):
    instance = tell(org, ["wang"])
    assert run_all(org) == 1
    [mail] = smtp.messages
    assert mail["To"] == "wang@example.com" and mail["From"] == "xiezuo@localhost"
    assert "催办" in mail["Subject"] and "请尽快处理" in mail["Subject"]
    [row] = deliveries(org)
    assert (row.channel, row.status, row.attempts, row.sent_at) == ("email", "sent", 1, clock.now)
    assert f"https://xz.example.com/tasks/{row.task_id}" in mail.get_content()
    assert row.instance_id == instance
    with org.db.read() as s:  # every notice dispatched: nothing waits in the outbox
        assert s.scalar(select(func.count()).where(Notification.sent_at.is_(None))) == 0
    assert run_all(org) == 0 and len(smtp.messages) == 1


def test_smtp_login_when_a_user_is_configured(org, clock):
    with SmtpServer("mailer", "s3cret") as server:
        org.config.smtp_host, org.config.smtp_port, org.config.smtp_starttls = "127.0.0.1", server.port, False
        org.config.smtp_user, org.config.smtp_password = "mailer", "s3cret"
        tell(org, ["wang", "li"])
        assert run_all(org) == 2
        assert server.logins == ["mailer"]  # one connection for the batch
        assert sorted(m["To"] for m in server.messages) == ["li@example.com", "wang@example.com"]


def test_email_follows_the_preferences(org, smtp):
    tell(org, ["wang"], kind="reminder")  # reminders are not emailed by default
    assert run_all(org) == 0 and deliveries(org) == []
    set_preferences(org, "wang", email={"reminder"}, bot=set())
    tell(org, ["wang"], kind="reminder")
    tell(org, ["wang"], kind="urge")  # no longer chosen
    assert run_all(org) == 1
    assert "提醒" in smtp.messages[0]["Subject"]


def test_no_email_channel_without_smtp(org):
    tell(org, ["wang"])
    assert dispatch_pending(org) == 1
    assert deliveries(org) == []


# ---------------------------------------------------------------------------------- group bots
@pytest.mark.parametrize("platform", ["dingtalk", "feishu", "wecom"])
def test_a_bot_message_per_event_signed_as_the_platform_wants(org, receiver, platform):
    secret = {"dingtalk": DING_SECRET, "feishu": FEISHU_SECRET}.get(platform)
    set_bot(org, "MKT", "boss", platform, receiver.url(platform), secret, ["red_warning"], True)
    tell(org, ["wang", "li", "chen"], kind="red_warning", message="计划任务有延期风险")
    assert run_all(org) == 1
    [text] = receiver.texts(platform)
    assert "红色预警" in text and "小王、小李" in text and "计划任务有延期风险" in text
    assert "陈总监" not in text  # 产品部 has no bot
    assert receiver.refused == []
    [row] = deliveries(org)
    assert (row.channel, row.target, row.recipients) == ("bot", "MKT", "wang,li")


def test_a_kind_the_bot_does_not_take_or_the_user_declined_is_not_posted(org, receiver):
    set_bot(org, "MKT", "boss", "wecom", receiver.url("wecom"), None, ["urge"], True)
    set_preferences(org, "li", email=set(), bot=set())
    tell(org, ["wang"], kind="info")
    tell(org, ["li"], kind="urge")
    assert run_all(org) == 0 and receiver.texts() == []
    set_bot(org, "MKT", "boss", "wecom", "", None, ["urge"], False)  # switched off
    tell(org, ["wang"], kind="urge")
    assert run_all(org) == 0 and receiver.texts() == []


def test_a_wrong_signature_is_refused_and_retried(org, receiver, clock):
    set_bot(org, "MKT", "boss", "dingtalk", receiver.url("dingtalk"), "SEC" + "0" * 64, ["urge"], True)
    tell(org, ["wang"])
    assert run_all(org) == 0
    [row] = deliveries(org)
    assert row.status == "pending" and row.attempts == 1 and "310000" in row.last_error
    assert row.next_attempt_at == clock.now + timedelta(seconds=30)
    assert receiver.refused and receiver.texts() == []


def test_a_test_message_arrives_at_once(org, receiver):
    set_bot(org, "MKT", "boss", "feishu", receiver.url("feishu"), FEISHU_SECRET, ["urge"], False)
    send_test_message(org, "MKT", "boss")
    [text] = receiver.texts("feishu")
    assert "测试消息" in text and "市场部" in text
    with pytest.raises(PermissionDenied):
        send_test_message(org, "MKT", "wang")


def test_rate_limit_holds_then_a_digest_replaces_a_flood(org, receiver, clock):
    set_bot(org, "MKT", "boss", "dingtalk", receiver.url("dingtalk"), DING_SECRET, ["info"], True)
    for i in range(20):
        tell(org, ["wang"], kind="info", message=f"第 {i} 条")
    assert run_all(org) == 20 and len(receiver.texts()) == 20  # within the budget: one message each
    first_batch = clock.now
    clock.advance(seconds=10)
    for i in range(3):
        tell(org, ["wang"], kind="info", message=f"稍后 {i}")
    assert run_all(org) == 0  # the minute's 20 are spent: they wait, none dropped
    waiting = deliveries(org, status="pending")
    assert len(waiting) == 3 and {r.next_attempt_at for r in waiting} == {first_batch + timedelta(seconds=60)}
    assert all(r.attempts == 0 for r in waiting)
    clock.advance(seconds=51)
    for i in range(30):
        tell(org, ["li"], kind="info", message=f"洪水 {i}")
    assert run_all(org) == 33  # 33 due > 20 a minute: one digest names them all
    texts = receiver.texts()
    assert len(texts) == 21
    assert "33 条通知合并发送" in texts[-1] and "稍后 0" in texts[-1] and "另有 3 条" in texts[-1]
    digest = deliveries(org, status="sent")[-33:]
    assert {r.digest_of for r in digest} == {digest[0].id}


def test_failures_back_off_then_fail_and_an_admin_retries(org, receiver, clock):
    set_bot(org, "MKT", "boss", "wecom", receiver.url("wecom"), None, ["urge"], True)
    receiver.answers = [("http", 500)] * 6
    tell(org, ["wang"])
    dispatch_pending(org)
    start = clock.now
    waits = [30, 120, 600, 3600, 6 * 3600]
    at = start
    for attempt, wait in enumerate(waits, 1):
        assert deliver_due(org, at) == 0
        [row] = deliveries(org)
        assert (row.status, row.attempts, row.last_error) == ("pending", attempt, "HTTP 500 from the wecom webhook")
        assert row.next_attempt_at == at + timedelta(seconds=wait)
        assert deliver_due(org, at + timedelta(seconds=wait - 1)) == 0  # not due before its time
        at += timedelta(seconds=wait)
    assert deliver_due(org, at) == 0
    [row] = deliveries(org)
    assert (row.status, row.attempts) == ("failed", 6)
    assert deliver_due(org, at + timedelta(days=1)) == 0
    assert list_deliveries(org, "failed").total == 1
    with pytest.raises(PermissionDenied):
        retry_delivery(org, row.id, "wang")
    retry_delivery(org, row.id, "boss")
    assert deliver_due(org) == 1 and len(receiver.texts()) == 1
    assert deliveries(org)[0].status == "sent"


def test_a_rate_limit_answer_is_retried_a_minute_later_without_counting(org, receiver, clock):
    set_bot(org, "MKT", "boss", "feishu", receiver.url("feishu"), FEISHU_SECRET, ["urge"], True)
    receiver.answers = [("code", 9499)]
    tell(org, ["wang"])
    assert run_all(org) == 0
    [row] = deliveries(org)
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 0, clock.now + timedelta(seconds=60))
    assert deliver_due(org, clock.advance(seconds=60)) == 1


def test_retry_all_failed(org, receiver, clock):
    set_bot(org, "MKT", "boss", "wecom", receiver.url("wecom"), None, ["urge", "info"], True)
    receiver.answers = [("code", 93000)] * 12
    tell(org, ["wang"])
    tell(org, ["li"], kind="info")
    dispatch_pending(org)
    at = clock.now
    for _ in range(6):
        deliver_due(org, at)
        at += timedelta(hours=7)
    assert [r.status for r in deliveries(org)] == ["failed", "failed"]
    assert retry_failed(org, "boss") == 2
    assert deliver_due(org) == 2


# ---------------------------------------------------------------------------------- quiet hours
def test_quiet_hours_hold_email_until_they_end(org, smtp, clock):
    set_preferences(org, "wang", email={"urge", "red_warning"}, bot=set(), quiet_start="22:00", quiet_end="08:00")
    clock.now = datetime(2026, 9, 30, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    tell(org, ["wang"])
    tell(org, ["wang"], kind="red_warning", message="延期风险")  # not through quiet hours: not chosen
    assert run_all(org) == 0
    morning = datetime(2026, 10, 1, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    assert {r.next_attempt_at for r in deliveries(org)} == {morning}
    assert deliver_due(org, morning - timedelta(seconds=1)) == 0
    assert deliver_due(org, morning) == 2 and len(smtp.messages) == 2


def test_red_warnings_go_through_quiet_hours_when_chosen(org, smtp, receiver, clock):
    set_preferences(org, "wang", email={"urge", "red_warning"}, bot={"red_warning", "urge"},
                    quiet_start="12:00", quiet_end="14:00", urgent_in_quiet=True)
    set_bot(org, "MKT", "boss", "wecom", receiver.url("wecom"), None, ["red_warning", "urge"], True)
    clock.now = datetime(2026, 9, 30, 5, 0, tzinfo=UTC)  # 13:00 in Shanghai
    tell(org, ["wang"], kind="red_warning", message="延期风险")
    tell(org, ["wang"], kind="urge")
    assert run_all(org) == 2  # the red warning by email and bot; the urge waits until 14:00
    assert "红色预警" in smtp.messages[0]["Subject"] and "延期风险" in receiver.texts()[0]
    held = deliveries(org, status="pending")
    assert {r.kind for r in held} == {"urge"}
    assert {r.next_attempt_at for r in held} == {datetime(2026, 9, 30, 6, 0, tzinfo=UTC)}


def test_preferences_are_checked(org):
    assert get_preferences(org, "wang").to_dict()["email"] == ["task", "return", "urge", "escalation",
                                                               "red_warning"]
    with pytest.raises(FormInvalid) as refused:
        set_preferences(org, "wang", email={"urge"}, bot=set(), quiet_start="25:00", quiet_end="")
    assert set(refused.value.errors) == {"quiet_start"}
    with pytest.raises(FormInvalid) as refused:
        set_preferences(org, "wang", email={"urge"}, bot=set(), quiet_start="22:00")
    assert set(refused.value.errors) == {"quiet_end"}
    with pytest.raises(FormInvalid):
        set_preferences(org, "wang", email={"spam"}, bot=set())
    assert get_preferences(org, "wang").quiet_start is None  # nothing half-written


# ---------------------------------------------------------------------------------- bot settings
def test_bot_urls_and_secrets_are_checked(org):
    assert check_bot("dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=x", DING_SECRET, ["urge"]) == {}
    assert check_bot("dingtalk", "http://oapi.dingtalk.com/robot/send?access_token=x", None, []) == \
        {"webhook_url": "scheme"}
    assert check_bot("dingtalk", "https://evil.example.com/robot/send?access_token=x", None, []) == \
        {"webhook_url": "host"}
    assert check_bot("dingtalk", "https://oapi.dingtalk.com/robot/send", None, []) == {"webhook_url": "token"}
    assert check_bot("feishu", "https://open.feishu.cn/open-apis/bot/v2/hook/", None, []) == {"webhook_url": "path"}
    assert check_bot("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", "SECabc", []) == \
        {"secret": "unused"}
    assert check_bot("dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=x", "abc", ["nope"]) == \
        {"secret": "format", "kinds": "unknown"}
    assert check_bot("slack", "", None, []) == {"platform": "unknown"}
    with pytest.raises(FormInvalid) as refused:
        set_bot(org, "MKT", "boss", "dingtalk", "https://evil.example.com/robot/send?access_token=x", None, [], True)
    assert set(refused.value.errors) == {"webhook_url"}
    assert get_bot(org, "MKT") is None
    with pytest.raises(PermissionDenied):
        set_bot(org, "MKT", "chen", "wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", None, [], True)


def test_a_stored_secret_is_kept_and_never_shown_in_full(org):
    url = "https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdef"
    set_bot(org, "MKT", "boss", "dingtalk", url, DING_SECRET, ["urge"], True)
    kept = set_bot(org, "MKT", "boss", "dingtalk", "", "", ["urge", "info"], True)  # empty: keep both
    assert (kept.webhook_url, kept.secret, kept.kinds) == (url, DING_SECRET, ["urge", "info"])
    shown = kept.shown()
    assert DING_SECRET not in str(shown) and "0123456789abcdef" not in shown["webhook_url"]
    assert shown["secret"] == mask(DING_SECRET) and shown["secret"].startswith("SEC")
    cleared = set_bot(org, "MKT", "boss", "dingtalk", "", "", ["urge"], True, clear_secret=True)
    assert cleared.secret is None


# ---------------------------------------------------------------------------------- the outbox
def test_a_rolled_back_command_sends_nothing(org, smtp):
    with pytest.raises(InvalidInput):  # the script notified, then the task's assignee failed: rolled back
        start_instance(org, "notify_kinds", "boss", {"people": ["wang"], "kind": "urge", "message": "x"})
    with org.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Notification)) == 0
    assert run_all(org) == 0 and smtp.messages == []


def test_a_killed_senders_lease_expires_and_the_delivery_is_claimed_again(org, smtp, clock):
    tell(org, ["wang"])
    dispatch_pending(org)
    lease_until = clock.now + timedelta(minutes=5)
    claimed = _claim(org, clock.now, 10, lease_until)[0]  # claimed, then the worker died
    assert len(claimed) == 1
    assert deliver_due(org, clock.now + timedelta(minutes=4)) == 0 and smtp.messages == []
    assert deliver_due(org, lease_until) == 1 and len(smtp.messages) == 1
    assert deliveries(org)[0].status == "sent"


def test_concurrent_dispatchers_and_senders_send_each_delivery_once(org, smtp, receiver):
    set_bot(org, "PRD", "chen", "feishu", receiver.url("feishu"), FEISHU_SECRET, ["urge"], True)
    for i in range(12):
        tell(org, ["wang", "li", "chen"], message=f"催办 {i}")  # 3 emails + 1 bot message each
    errors: list[BaseException] = []

    def work():
        try:
            for _ in range(40):
                took = dispatch_pending(org, limit=3)
                sent = deliver_due(org, limit=2)
                if not took and not sent and not deliveries(org, status="pending"):
                    return
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = deliveries(org)
    assert len(rows) == 12 * 4 and {r.status for r in rows} == {"sent"} and {r.attempts for r in rows} == {1}
    assert len(smtp.messages) == 36
    assert sorted((m["To"], m["Subject"]) for m in smtp.messages) == sorted(
        {(m["To"], m["Subject"]) for m in smtp.messages})
    assert len(receiver.texts("feishu")) == 12 and len(set(receiver.texts("feishu"))) == 12


# ---------------------------------------------------------------------------------- the admin page's lists
def test_scheduled_timers_name_the_waiting_elements(org, clock):
    first = tell(org, ["wang"])
    clock.advance(minutes=10)
    second = tell(org, ["li"], owner="li")
    page = scheduled_timers(org)
    assert [i["instance_id"] for i in page.items] == [first, second]
    assert page.items[0]["timers"] == [{"element_id": "RemindLater", "name": "Remind in an hour",
                                        "due_at": (clock.now - timedelta(minutes=10) + timedelta(hours=1)).isoformat()}]
    assert scheduled_timers(org, page=2, per_page=1).items[0]["instance_id"] == second


def test_an_email_is_written_in_its_recipients_language(org, smtp):
    from engine.org.accounts import set_preferences as set_language
    from engine.tasks.operations import transfer_task
    from engine.workflow.instances import describe_instance

    set_language(org, "li", locale="en")  # chen keeps the organisation's language
    for user in ("li", "chen"):
        set_preferences(org, user, email={"info"}, bot=set())
    (task,) = describe_instance(org, tell(org, ["boss"], owner="wang"))["open_tasks"]
    transfer_task(org, task["task_id"], "wang", "li", "出差，请代办")
    transfer_task(org, task["task_id"], "li", "chen", "转产品部处理")
    run_all(org)
    mails = {m["To"]: m for m in smtp.messages}
    english, chinese = mails["li@example.com"], mails["chen@example.com"]
    url = f"https://xz.example.com/tasks/{task['task_id']}"
    assert english["Subject"] == "[Xiezuo] Notice: 小王 transferred the task “Do the work” to you: 出差，请代办"
    def body(mail) -> str:
        return mail.get_content().replace("\r\n", "\n")

    assert body(english) == (f"小王 transferred the task “Do the work” to you: 出差，请代办\n\nOpen: {url}\n\n"
                             "——\nXiezuo (change how you are notified in your settings)\n")
    assert chinese["Subject"] == "[协作] 通知：小李 将任务「Do the work」转办给你：转产品部处理"
    assert body(chinese).startswith(f"小李 将任务「Do the work」转办给你：转产品部处理\n\n打开：{url}")
    assert {(d.recipients, d.locale) for d in deliveries(org, channel="email")} >= {("li", "en"), ("chen", "zh_CN")}
