"""Send due deliveries: claim them with a lease, send outside any transaction, record the outcome.

A claim (FOR UPDATE SKIP LOCKED on PostgreSQL, the write lock on SQLite) marks the rows `sending`
until lease_until, which is also their next_attempt_at: a worker killed while sending leaves rows
that fall due again when the lease ends and are claimed anew. An outcome is recorded only by the
claim that holds the row (same lease), each right after its message went, so several workers send
each delivery once. Failures retry after BACKOFF (attempt 1 -> 30 s, 2 min, 10 min, 1 h, 6 h),
then the row is `failed` with the last error; a platform asking to slow down (rate limit) is retried
a minute later without counting an attempt.

A bot gets at most its platform's messages per minute (bots.PER_MINUTE): when more of its
deliveries are due than the minute's budget allows, one digest message lists them all instead.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update

from engine.context import Services
from engine.db.models import AppUser, DepartmentBot, NotificationDelivery
from engine.messages import render
from engine.notify.bots import PER_MINUTE, SendFailed, bot_settings, post
from engine.notify.email import Mailer, compose, kind_label, link

BACKOFF = (30, 120, 600, 3600, 6 * 3600)  # seconds after the 1st, 2nd, ... failed attempt
MAX_ATTEMPTS = len(BACKOFF) + 1
RATE_WAIT = timedelta(seconds=60)
DIGEST_LINES = 30


@dataclass
class _Claimed:
    id: int
    channel: str
    target: str
    kind: str
    message: str
    instance_id: str | None
    task_id: str | None
    recipients: list[str]
    attempts: int
    locale: str | None


def _claim(ctx: Services, now: datetime, limit: int, lease_until: datetime):
    d = NotificationDelivery
    with ctx.db.read() as s:  # a look without the write lock: the background loop asks every second
        if s.scalar(select(d.id).where(d.status.in_(("pending", "sending")), d.next_attempt_at <= now)
                    .limit(1)) is None:
            return [], {}, {}, {}, {}
    with ctx.db.write() as s:
        q = (select(d).where(d.status.in_(("pending", "sending")), d.next_attempt_at <= now)
             .order_by(d.next_attempt_at, d.id).limit(limit))
        if ctx.db.is_postgres:
            q = q.with_for_update(skip_locked=True)
        rows = list(s.scalars(q))
        for r in rows:
            r.status, r.lease_until, r.next_attempt_at = "sending", lease_until, lease_until
        claimed = [_Claimed(r.id, r.channel, r.target, r.kind, r.message, r.instance_id, r.task_id,
                            r.recipients.split(","), r.attempts, r.locale) for r in rows]
        targets = {c.target for c in claimed if c.channel == "bot"}
        bots = {r.department_id: bot_settings(r) for r in s.scalars(
            select(DepartmentBot).where(DepartmentBot.department_id.in_(targets)))} if targets else {}
        window = now - timedelta(seconds=60)
        sent_recently = dict(s.execute(
            select(d.target, func.count()).where(d.channel == "bot", d.target.in_(targets), d.sent_at > window,
                                                 or_(d.digest_of.is_(None), d.digest_of == d.id))
            .group_by(d.target)).all()) if targets else {}
        oldest = dict(s.execute(
            select(d.target, func.min(d.sent_at)).where(d.channel == "bot", d.target.in_(targets),
                                                        d.sent_at > window).group_by(d.target)).all()) \
            if targets else {}
        people = {p for c in claimed for p in c.recipients}
        names = dict(s.execute(select(AppUser.id, AppUser.display_name).where(AppUser.id.in_(people))).all()) \
            if people else {}
    return claimed, bots, sent_recently, oldest, names


def _finish(ctx: Services, ids: list[int], lease_until: datetime, **values) -> int:
    d = NotificationDelivery
    with ctx.db.write() as s:
        done = s.execute(update(d).where(d.id.in_(ids), d.status == "sending", d.lease_until == lease_until)
                         .values(lease_until=None, **values).execution_options(synchronize_session=False))
        return done.rowcount or 0


def _failed(ctx: Services, item: _Claimed, lease_until: datetime, error: str, when: datetime,
            retry_later: bool = False, ids: list[int] | None = None) -> None:
    ids = ids or [item.id]
    if retry_later:
        _finish(ctx, ids, lease_until, status="pending", next_attempt_at=when + RATE_WAIT, last_error=error[:2000])
        return
    attempts = item.attempts + 1
    if attempts >= MAX_ATTEMPTS:
        _finish(ctx, ids, lease_until, status="failed", attempts=attempts, next_attempt_at=when,
                last_error=error[:2000])
    else:
        _finish(ctx, ids, lease_until, status="pending", attempts=attempts, last_error=error[:2000],
                next_attempt_at=when + timedelta(seconds=BACKOFF[attempts - 1]))


def _text(ctx: Services, item: _Claimed, names: dict[str, str]) -> str:
    lang = ctx.config.locale  # a group's bot speaks the organisation's language
    who = [names.get(p, p) for p in dict.fromkeys(item.recipients)]
    url = link(ctx.config, item.instance_id, item.task_id)
    text = render("bot.message", {"kind": kind_label(item.kind, lang), "who": who, "message": item.message}, lang)
    return text + (f"\n{url}" if url else "")


def _digest(ctx: Services, items: list[_Claimed], names: dict[str, str], per_minute: int) -> str:
    lang = ctx.config.locale
    lines = [render("bot.digest", {"n": len(items), "most": per_minute}, lang)]
    for item in items[:DIGEST_LINES]:
        who = [names.get(p, p) for p in dict.fromkeys(item.recipients)]
        first = item.message.splitlines()[0] if item.message else ""
        lines.append(render("bot.digest_line", {"kind": kind_label(item.kind, lang), "who": who,
                                                "first": first[:120]}, lang))
    if len(items) > DIGEST_LINES:
        lines.append(render("bot.digest_more", {"n": len(items) - DIGEST_LINES}, lang))
    lines.append(render("bot.digest_link", {"url": f"{ctx.config.base_url.rstrip('/')}/notifications"}, lang))
    return "\n".join(lines)


def deliver_due(ctx: Services, now: datetime | None = None, limit: int = 50) -> int:
    """Claim up to `limit` due deliveries, send them (outside the database transaction) and record
    each outcome; how many were sent (those inside a digest included)."""
    fixed = now
    now = now or ctx.now()

    def when() -> datetime:
        return fixed or ctx.now()

    # A claim outlives the slowest batch (every message taking the whole timeout), then expires.
    lease_until = now + timedelta(seconds=60 + limit * ctx.config.delivery_timeout)
    claimed, bots, sent_recently, oldest, names = _claim(ctx, now, limit, lease_until)
    if not claimed:
        return 0
    sent = 0
    mailer = Mailer(ctx.config)
    try:
        for item in (c for c in claimed if c.channel == "email"):
            if not ctx.config.smtp_host:
                _finish(ctx, [item.id], lease_until, status="failed", last_error="email is not configured (SMTP host)")
                continue
            try:
                mailer.send(compose(ctx.config, item.target, item.kind, item.message,
                                    link(ctx.config, item.instance_id, item.task_id), item.locale))
            except (smtplib.SMTPException, OSError) as exc:
                _failed(ctx, item, lease_until, f"SMTP: {exc}", when())
                continue
            sent += _finish(ctx, [item.id], lease_until, status="sent", attempts=item.attempts + 1, sent_at=when(),
                            last_error=None)
    finally:
        mailer.close()
    by_bot: dict[str, list[_Claimed]] = {}
    for item in claimed:
        if item.channel == "bot":
            by_bot.setdefault(item.target, []).append(item)
    for dept, items in by_bot.items():
        sent += _send_bot(ctx, dept, items, bots.get(dept), sent_recently.get(dept, 0), oldest.get(dept), names,
                          lease_until, when)
    return sent


def _send_bot(ctx, dept, items, bot, recent, oldest, names, lease_until, when) -> int:
    ids = [i.id for i in items]
    if bot is None or not bot.enabled:
        _finish(ctx, ids, lease_until, status="failed", next_attempt_at=when(),
                last_error=f"the group bot of {dept} is switched off or removed")
        return 0
    per_minute = PER_MINUTE[bot.platform]
    budget = per_minute - recent
    if budget <= 0:  # this minute's messages are spent: wait until the oldest of them is a minute old
        wait = (oldest + RATE_WAIT) if oldest else when() + RATE_WAIT
        _finish(ctx, ids, lease_until, status="pending", next_attempt_at=max(wait, when()))
        return 0
    if len(items) > budget:
        lead = items[0]
        try:
            post(bot, _digest(ctx, items, names, per_minute), int(when().timestamp() * 1000),
                 ctx.config.delivery_timeout)
        except SendFailed as exc:
            _failed(ctx, lead, lease_until, str(exc), when(), exc.retry_later, ids)
            return 0
        return _finish(ctx, ids, lease_until, status="sent", attempts=lead.attempts + 1, sent_at=when(),
                       digest_of=lead.id, last_error=None)
    sent = 0
    for item in items:
        try:
            post(bot, _text(ctx, item, names), int(when().timestamp() * 1000), ctx.config.delivery_timeout)
        except SendFailed as exc:
            _failed(ctx, item, lease_until, str(exc), when(), exc.retry_later)
            continue
        sent += _finish(ctx, [item.id], lease_until, status="sent", attempts=item.attempts + 1, sent_at=when(),
                        last_error=None)
    return sent
