"""Notifications: the outbox, deliveries, preferences, departments' bots, background jobs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.db.models.base import Base, DateTime


class Notification(Base):
    """The outbox: a message for one person, written in the transaction that caused it."""

    __tablename__ = "notification"
    # Read by recipient (the user's list and unread count) and by instance (a request's history);
    # the dispatcher finds the rows not yet dispatched (sent_at NULL) through a partial index that
    # only holds those, so it stays a few rows long however long the table grows.
    __table_args__ = (Index("ix_notification_undispatched", "id", sqlite_where=text("sent_at IS NULL"),
                            postgresql_where=text("sent_at IS NULL")),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[str | None] = mapped_column(String(36), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36))
    recipient: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # task | return | reminder | urge | escalation | red_warning | info
    message: Mapped[str] = mapped_column(Text)  # as written (a diagram's notify()), or the code's Chinese text
    # A notice the engine composes: its message of the catalogue (engine.messages), rendered for each reader.
    code: Mapped[str | None] = mapped_column(String(64))
    params: Mapped[str | None] = mapped_column(Text)  # JSON
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NotificationDelivery(Base):
    """One message of a notification on a channel beyond the app (email, a department's group bot),
    made from the outbox by engine.notify and sent by whichever worker claims it."""

    __tablename__ = "notification_delivery"
    __table_args__ = (Index("ix_notification_delivery_due", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notification.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # email | bot
    target: Mapped[str] = mapped_column(String(255))  # an email address; a department id (its bot)
    # One row per message: email:<notification id>; a bot's message per event names all its recipients.
    dedupe_key: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    recipients: Mapped[str] = mapped_column(Text)  # user ids, comma-separated
    message: Mapped[str] = mapped_column(Text)
    locale: Mapped[str | None] = mapped_column(String(16))  # the language `message` was rendered in (None: zh_CN)
    instance_id: Mapped[str | None] = mapped_column(String(36))
    task_id: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16))  # pending | sending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # while sending: lease_until
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    digest_of: Mapped[int | None] = mapped_column(Integer)  # sent inside the digest message of that row
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NotificationPreference(Base):
    """A user's channels per kind of notification beyond the app, and quiet hours (no row: defaults)."""

    __tablename__ = "notification_preference"
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    email_kinds: Mapped[str] = mapped_column(Text, default="")  # kinds, comma-separated
    bot_kinds: Mapped[str] = mapped_column(Text, default="")
    quiet_start: Mapped[str | None] = mapped_column(String(5))  # HH:MM local (organisation's zone)
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    urgent_in_quiet: Mapped[bool] = mapped_column(Boolean, default=False)  # red warnings, escalations go through
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DepartmentBot(Base):
    """A department's group bot (DingTalk, Feishu, WeCom webhook) and the kinds of notices it posts."""

    __tablename__ = "department_bot"
    department_id: Mapped[str] = mapped_column(ForeignKey("department.id"), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))  # dingtalk | feishu | wecom
    webhook_url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str | None] = mapped_column(String(255))
    kinds: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class BackgroundJob(Base):
    """A periodic job of the background workers (anchoring, verification, analytics): when it is
    next due. A worker claims a due job by moving next_run_at on in its own transaction, so across
    any number of workers each run happens once."""

    __tablename__ = "background_job"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
