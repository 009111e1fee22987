"""Notification settings in Chromium: a user has reminders emailed and sets quiet hours; a department
head sets the department's group bot and sends a test message that arrives at the (local) webhook."""

from __future__ import annotations

from datetime import time
from zoneinfo import ZoneInfo

from engine.bpmn.deploy import deploy
from engine.db.models import AppUser
from engine.notify import deliver_due, dispatch_pending
from engine.notify.preferences import get_preferences
from engine.workflow.instances import start_instance
from tests.browser.conftest import shot, sign_in
from tests.conftest import fixture_files
from tests.delivery_receivers import SmtpServer, WebhookReceiver

SECRET = "SEC" + "5f3e" * 16


def test_a_user_sets_email_for_reminders_and_quiet_hours(page, server):
    ctx = server[1]
    with SmtpServer() as smtp:
        ctx.config.smtp_host, ctx.config.smtp_port, ctx.config.smtp_starttls = "127.0.0.1", smtp.port, False
        sign_in(page, "xiaowang")
        page.goto(f"{page.base_url}/settings")
        form = page.locator("form[data-form=notices]")
        assert not form.locator("input[name=email_reminder]").is_checked()
        form.locator("input[name=email_reminder]").check()
        form.locator("input[name=quiet_start]").fill("22:00")
        form.locator("input[name=quiet_end]").fill("07:30")
        form.locator("button[type=submit]").click()
        page.wait_for_load_state()
        assert "通知方式已保存" in page.inner_text("p.flash")
        assert page.locator("form[data-form=notices] input[name=email_reminder]").is_checked()
        assert page.input_value("input[name=quiet_start]") == "22:00"
        shot(page, "notification-settings")
        prefs = get_preferences(ctx, "xiaowang")
        assert "reminder" in prefs.email and (prefs.quiet_start, prefs.quiet_end) == ("22:00", "07:30")
        # A reminder is now emailed to xiaowang's address, at once or when the quiet hours end.
        with ctx.db.write() as s:
            s.get(AppUser, "xiaowang").email = "xiaowang@example.com"
        deploy(ctx, fixture_files("notify_kinds.bpmn"), "lijingli")
        start_instance(ctx, "notify_kinds", "lijingli", {"people": ["xiaowang"], "kind": "reminder",
                                                         "message": "周报明天截止", "owner": "xiaowang"})
        dispatch_pending(ctx)
        deliver_due(ctx)
        local = ctx.now().astimezone(ZoneInfo(ctx.config.timezone)).time()
        quiet = local >= time(22) or local < time(7, 30)
        assert len(smtp.messages) == (0 if quiet else 1)
        if not quiet:
            assert smtp.messages[0]["To"] == "xiaowang@example.com" and "周报明天截止" in smtp.messages[0]["Subject"]


def test_a_head_sets_the_department_bot_and_a_test_message_arrives(page, server):
    ctx = server[1]
    ctx.config.webhook_any_host = True  # the local receiver stands in for DingTalk
    with WebhookReceiver({"dingtalk": SECRET}) as receiver:
        sign_in(page, "zhangzongjian")
        page.goto(f"{page.base_url}/settings")
        bot = page.locator("[data-bot-dept=MKT] form[data-form=bot]")
        bot.locator("select[name=platform]").select_option("dingtalk")
        bot.locator("input[name=webhook_url]").fill("https://example.com/hook")
        bot.locator("button[type=submit]").click()
        page.wait_for_load_state()
        assert "钉钉" in page.inner_text("[data-field=webhook_url] p.error")  # a host, at its field
        bot = page.locator("[data-bot-dept=MKT] form[data-form=bot]")
        bot.locator("input[name=webhook_url]").fill(receiver.url("dingtalk"))
        bot.locator("input[name=secret]").fill(SECRET)
        bot.locator("input[name=kinds][value=red_warning]").check()
        bot.locator("button[type=submit]").click()
        page.wait_for_load_state()
        assert "群机器人设置已保存" in page.inner_text("p.flash")
        assert SECRET not in page.content()
        page.click("[data-bot-dept=MKT] form[data-form=bot-test] button")
        page.wait_for_load_state()
        assert "测试消息已发送" in page.inner_text("p.flash")
        shot(page, "department-bot")
        [text] = receiver.texts("dingtalk")
        assert "测试消息" in text and "市场部" in text and "张总监" in text
        assert receiver.refused == []  # signed as DingTalk checks it
