"""Dispatch: turn the notifications the commands wrote (the outbox) into deliveries per channel.

Commands only insert notification rows (sent_at NULL); nothing here runs in their transaction, so
a rolled-back command leaves nothing to dispatch and the command path pays for one partial index
only. A dispatcher claims the oldest undispatched rows (FOR UPDATE SKIP LOCKED on PostgreSQL, the
write lock on SQLite), writes their deliveries and marks them dispatched in the same transaction:
several dispatchers never dispatch one notification twice.

Which deliveries: in-app is the notification itself. Email to the recipient's address when SMTP is
configured, the user is active and has an address, and chose email for the kind. The group bot of
the recipient's department when it is switched on, subscribes to the kind and the recipient keeps
the bot for the kind: one message per event (the same request, kind, text and moment) and bot,
naming every recipient of that department. Quiet hours hold a delivery until they end (a bot
message until the last of its recipients' quiet hours ends).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import case, select, update
from sqlalchemy.dialects import postgresql, sqlite

from engine.context import Services
from engine.db.models import AppUser, Notification, NotificationDelivery
from engine.messages.render import language
from engine.notify.bots import bots_of
from engine.notify.preferences import preferences_of, quiet_until
from engine.workflow.notices import notice_text


def _event_key(dept: str, n: Notification) -> str:
    raw = "\x1f".join((dept, n.instance_id or "", n.kind, n.message, n.created_at.isoformat()))
    return "bot:" + hashlib.sha256(raw.encode()).hexdigest()


def _deliveries(ctx: Services, s, notes: list[Notification], now: datetime) -> list[dict]:
    people = {n.recipient for n in notes}
    users = {u.id: u for u in s.scalars(select(AppUser).where(AppUser.id.in_(people)))}
    prefs = preferences_of(s, people)
    bots = bots_of(s, {u.department_id for u in users.values() if u.department_id})
    email_on = bool(ctx.config.smtp_host)
    rows: dict[str, dict] = {}
    for n in notes:
        user = users.get(n.recipient)
        if user is None or not user.active:
            continue
        mine = prefs[n.recipient]
        hold = quiet_until(mine, n.kind, now, ctx.config.timezone) or now
        base = {"notification_id": n.id, "kind": n.kind, "instance_id": n.instance_id,
                "task_id": n.task_id, "status": "pending", "attempts": 0, "created_at": now}
        if email_on and user.email and n.kind in mine.email:
            lang = language(user.locale or ctx.config.locale)  # the recipient's, in their time zone
            rows[f"email:{n.id}"] = {**base, "channel": "email", "target": user.email, "dedupe_key": f"email:{n.id}",
                                     "recipients": n.recipient, "next_attempt_at": hold, "locale": lang,
                                     "message": notice_text(n, lang, user.timezone or ctx.config.timezone)}
        bot = bots.get(user.department_id or "")
        if bot is not None and n.kind in bot.kinds and n.kind in mine.bot:
            key = _event_key(bot.department_id, n)
            if key in rows:  # the same event for another person of the department: one message names both
                row = rows[key]
                row["recipients"] += f",{n.recipient}"
                row["next_attempt_at"] = max(row["next_attempt_at"], hold)
            else:
                lang = language(ctx.config.locale)  # a group's bot speaks the organisation's language
                rows[key] = {**base, "channel": "bot", "target": bot.department_id, "dedupe_key": key,
                             "recipients": n.recipient, "next_attempt_at": hold, "locale": lang,
                             "message": notice_text(n, lang, ctx.config.timezone)}
    return list(rows.values())


def _upsert(ctx: Services, s, rows: list[dict]) -> None:
    """Insert the deliveries; an event's bot message already waiting (dispatched by an earlier batch)
    gains the new recipients instead of a second message."""
    insert = postgresql.insert if ctx.db.is_postgres else sqlite.insert
    stmt = insert(NotificationDelivery)
    d = NotificationDelivery
    stmt = stmt.on_conflict_do_update(
        index_elements=[d.dedupe_key],
        set_={"recipients": d.recipients + "," + stmt.excluded.recipients,
              "next_attempt_at": case((stmt.excluded.next_attempt_at > d.next_attempt_at,
                                       stmt.excluded.next_attempt_at), else_=d.next_attempt_at)},
        where=d.status == "pending")
    s.execute(stmt, rows)


def dispatch_pending(ctx: Services, now: datetime | None = None, limit: int = 200) -> int:
    """Dispatch up to `limit` notifications not dispatched yet, oldest first: write their email and
    bot deliveries and mark them dispatched (sent_at), all in one transaction; how many were taken."""
    now = now or ctx.now()
    with ctx.db.read() as s:  # a look without the write lock: the background loop asks every second
        if s.scalar(select(Notification.id).where(Notification.sent_at.is_(None)).limit(1)) is None:
            return 0
    with ctx.db.write() as s:
        q = select(Notification).where(Notification.sent_at.is_(None)).order_by(Notification.id).limit(limit)
        if ctx.db.is_postgres:
            q = q.with_for_update(skip_locked=True)
        notes = list(s.scalars(q))
        if not notes:
            return 0
        rows = _deliveries(ctx, s, notes, now)
        if rows:
            _upsert(ctx, s, rows)
        s.execute(update(Notification).where(Notification.id.in_([n.id for n in notes])).values(sent_at=now)
                  .execution_options(synchronize_session=False))
        return len(notes)
