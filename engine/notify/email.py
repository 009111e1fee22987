"""Email over SMTP (smtplib): one connection per batch of deliveries, STARTTLS and login when set."""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from engine.config import EngineConfig
from engine.messages import MESSAGES, render


def kind_label(kind: str, locale: str | None) -> str:
    """What a kind of notice is called, in `locale`."""
    return render("kind." + kind, locale=locale) if "kind." + kind in MESSAGES else kind


def link(config: EngineConfig, instance_id: str | None, task_id: str | None) -> str | None:
    """Where the message points: the task (while someone may act on it), else the request."""
    base = config.base_url.rstrip("/")
    if task_id:
        return f"{base}/tasks/{task_id}"
    if instance_id:
        return f"{base}/requests/{instance_id}"
    return None


def compose(config: EngineConfig, to: str, kind: str, message: str, url: str | None,
            locale: str | None = None) -> EmailMessage:
    """The email of one notification, in the recipient's language `locale`."""
    mail = EmailMessage()
    mail["From"] = config.smtp_from
    mail["To"] = to
    first_line = message.splitlines()[0] if message else ""
    mail["Subject"] = render("email.subject", {"kind": kind_label(kind, locale), "first": first_line[:80]}, locale)
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=config.smtp_from.rpartition("@")[2] or "xiezuo")
    opened = "\n\n" + render("email.open", {"url": url}, locale) if url else ""
    body = message + opened + "\n\n" + render("email.footer", locale=locale)
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
