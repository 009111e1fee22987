"""Email over SMTP (smtplib): one connection per batch of deliveries, STARTTLS and login when set."""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from engine.config import EngineConfig

KIND_LABELS = {"task": "新任务", "return": "退回", "reminder": "提醒", "urge": "催办", "escalation": "升级",
               "red_warning": "红色预警", "info": "通知"}


def link(config: EngineConfig, instance_id: str | None, task_id: str | None) -> str | None:
    """Where the message points: the task (while someone may act on it), else the request."""
    base = config.base_url.rstrip("/")
    if task_id:
        return f"{base}/tasks/{task_id}"
    if instance_id:
        return f"{base}/requests/{instance_id}"
    return None


def compose(config: EngineConfig, to: str, kind: str, message: str, url: str | None) -> EmailMessage:
    """The email of one notification."""
    mail = EmailMessage()
    mail["From"] = config.smtp_from
    mail["To"] = to
    first_line = message.splitlines()[0] if message else ""
    mail["Subject"] = f"[协作] {KIND_LABELS.get(kind, kind)}：{first_line[:80]}"
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=config.smtp_from.rpartition("@")[2] or "xiezuo")
    body = message + (f"\n\n打开：{url}" if url else "") + "\n\n——\n协作平台（在「个人设置」中可更改通知方式）"
    mail.set_content(body)
    return mail


class Mailer:
    """One SMTP connection, opened on the first message and closed by close()."""

    def __init__(self, config: EngineConfig):
        self.config = config
        self._smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        c = self.config
        smtp = smtplib.SMTP(c.smtp_host, c.smtp_port, timeout=c.delivery_timeout)
        if c.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if c.smtp_user:
            smtp.login(c.smtp_user, c.smtp_password or "")
        return smtp

    def send(self, mail: EmailMessage) -> None:
        """Send one message; smtplib's and the socket's errors go to the caller."""
        if self._smtp is None:
            self._smtp = self._open()
        try:
            self._smtp.send_message(mail)
        except (smtplib.SMTPServerDisconnected, ConnectionError):
            self._smtp = None  # a connection the server closed: one new try, then the error stands
            self._smtp = self._open()
            self._smtp.send_message(mail)

    def close(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._smtp.quit()
            self._smtp = None
