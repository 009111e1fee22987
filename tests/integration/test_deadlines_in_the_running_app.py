"""A deadline fires on time in the running application and its notice arrives by email and group bot.

`xiezuo serve` runs as a real process with its embedded background work; a local SMTP server
(aiosmtpd) and a local webhook receiver (checking DingTalk's signature) stand for the mail server
and the group chat. Nothing calls the sweep or the sender: the application does it by itself.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from engine.bootstrap import bootstrap
from engine.bpmn.deploy import deploy
from engine.config import EngineConfig
from engine.db.models import AuditEvent
from engine.notify.bots import set_bot
from engine.notify.preferences import set_preferences
from engine.org.importer import import_org, parse_yaml
from engine.workflow.instances import start_instance
from tests.conftest import fixture_files
from tests.delivery_receivers import SmtpServer, WebhookReceiver

ROOT = Path(__file__).parents[2]
ORG = """
departments:
  - {id: MKT, name: 市场部, head: boss}
users:
  - {id: boss, name: 张总监, department: MKT, email: boss@example.com, roles: [platform_admin]}
  - {id: wang, name: 小王, department: MKT, email: wang@example.com}
"""
SECRET = "SEC" + "0f1e2d3c" * 8


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(what: str, done, seconds: float, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, f"{what} within {seconds} s\n{log.read_text(errors='replace')[-3000:]}"
        time.sleep(0.2)


def test_a_reminder_fires_on_time_and_reaches_the_mailbox_and_the_group_chat(tmp_path):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    ctx = bootstrap(EngineConfig(database_url=url, webhook_any_host=True))
    import_org(ctx, parse_yaml(ORG), "setup", bootstrap=True)
    deploy(ctx, fixture_files("deadline_soon.bpmn"), "boss")
    set_preferences(ctx, "wang", email={"reminder"}, bot={"reminder"})
    port = _free_port()
    log = tmp_path / "serve.log"
    with SmtpServer() as smtp, WebhookReceiver({"dingtalk": SECRET}) as chat:
        set_bot(ctx, "MKT", "boss", "dingtalk", chat.url("dingtalk"), SECRET, ["reminder"], True)
        env = {**os.environ, "XIEZUO_SMTP_HOST": "127.0.0.1", "XIEZUO_SMTP_PORT": str(smtp.port),
               "XIEZUO_SMTP_STARTTLS": "0", "XIEZUO_WEBHOOK_ANY_HOST": "1", "XIEZUO_SECRET_KEY": "k" * 32,
               "XIEZUO_INSTANCE_PATH": str(tmp_path / "instance"),
               "XIEZUO_BASE_URL": f"http://127.0.0.1:{port}"}
        with open(log, "wb") as out:
            server = subprocess.Popen([str(Path(sys.executable).parent / "xiezuo"), "--database-url", url, "serve",
                                       "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            def answering() -> bool:
                assert server.poll() is None, log.read_text(errors="replace")
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2):
                        return True
                except OSError:
                    return False

            _wait("the app answers", answering, 60, log)
            due = datetime.now(UTC) + timedelta(seconds=2)
            instance = start_instance(ctx, "deadline_soon", "boss", {"owner": "wang", "title": "物料设计",
                                                                      "remind_at": due.isoformat()}).instance_id
            _wait("the reminder is emailed", lambda: smtp.messages, 30, log)
            _wait("the reminder is posted to the group", lambda: chat.texts("dingtalk"), 30, log)
        finally:
            server.terminate()
            server.wait(timeout=20)
        [mail] = smtp.messages
        assert mail["To"] == "wang@example.com"
        assert "物料设计" in mail.get_content() and f"http://127.0.0.1:{port}/" in mail.get_content()
        [posted] = chat.texts("dingtalk")
        assert "任务“物料设计”将于明天到期" in posted and "小王" in posted
    with ctx.db.read() as s:
        fired = s.scalars(select(AuditEvent.at).where(AuditEvent.instance_id == instance,
                                                      AuditEvent.event_type == "timer_fired")).all()
    assert len(fired) == 1
    assert timedelta(0) <= fired[0] - due <= timedelta(seconds=5)
    ctx.db.dispose()
