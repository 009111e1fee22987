"""Each user's channels per kind of notification beyond the app, and their quiet hours.

In-app notices are always on (the notification row itself). Email and the department's group bot
are chosen per kind; a user without a row has the defaults below. Quiet hours are local times of
the organisation's zone (EngineConfig.timezone), may span midnight (22:00-08:00), and hold email and
bot messages until they end; red warnings and escalations go through them only when the user chose
so (urgent_in_quiet).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from engine.context import Services
from engine.db.models import AppUser, NotificationPreference
from engine.errors import FormInvalid, NotFound
from engine.messages import Msg
from engine.workflow.notices import KINDS

CHANNELS = ("email", "bot")
URGENT = ("red_warning", "escalation")  # may go through quiet hours, if the user says so
DEFAULT_EMAIL = ("task", "return", "urge", "escalation", "red_warning")
DEFAULT_BOT = KINDS
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass
class Preferences:
    """One user's choices (defaults when they never chose)."""

    email: set[str] = field(default_factory=lambda: set(DEFAULT_EMAIL))
    bot: set[str] = field(default_factory=lambda: set(DEFAULT_BOT))
    quiet_start: str | None = None
    quiet_end: str | None = None
    urgent_in_quiet: bool = False

    def to_dict(self) -> dict:
        return {"email": sorted(self.email, key=KINDS.index), "bot": sorted(self.bot, key=KINDS.index),
                "quiet_start": self.quiet_start, "quiet_end": self.quiet_end, "urgent_in_quiet": self.urgent_in_quiet}


def _split(kinds: str) -> set[str]:
    return {k for k in kinds.split(",") if k in KINDS}


def _from_row(row: NotificationPreference | None) -> Preferences:
    if row is None:
        return Preferences()
    return Preferences(_split(row.email_kinds), _split(row.bot_kinds), row.quiet_start, row.quiet_end,
                       bool(row.urgent_in_quiet))


def preferences_of(s, users: set[str]) -> dict[str, Preferences]:
    """The preferences of `users` (in the session `s`), defaults for those without a row."""
    rows = {r.user_id: r for r in s.scalars(select(NotificationPreference)
                                            .where(NotificationPreference.user_id.in_(users)))} if users else {}
    return {u: _from_row(rows.get(u)) for u in users}


def get_preferences(ctx: Services, user_id: str) -> Preferences:
    """The user's channels per kind and quiet hours."""
    with ctx.db.read() as s:
        return _from_row(s.get(NotificationPreference, user_id))


def check_quiet_hours(start: str, end: str) -> dict[str, str]:
    """Problems of a quiet-hours range per field, as codes: `format` (not HH:MM), `half` (only one
    end given), `empty` (start equals end)."""
    problems = {}
    for name, value in (("quiet_start", start), ("quiet_end", end)):
        if value and not _HHMM.match(value):
            problems[name] = "format"
    if not problems and bool(start) != bool(end):
        problems["quiet_end" if start else "quiet_start"] = "half"
    if not problems and start and start == end:
        problems["quiet_end"] = "empty"
    return problems




def set_preferences(ctx: Services, user_id: str, email: set[str] | list[str], bot: set[str] | list[str],
                    quiet_start: str | None = None, quiet_end: str | None = None,
                    urgent_in_quiet: bool = False) -> Preferences:
    """Store the user's channels per kind and quiet hours (FormInvalid names each wrong field)."""
    start, end = (quiet_start or "").strip(), (quiet_end or "").strip()
    problems = check_quiet_hours(start, end)
    for name, kinds in (("email", email), ("bot", bot)):
        if any(k not in KINDS for k in kinds):
            problems[name] = "kind"
    if problems:
        raise FormInvalid({k: Msg("quiet." + v) for k, v in problems.items()})
    with ctx.db.write() as s:
        if s.get(AppUser, user_id) is None:
            raise NotFound("user.unknown", user=user_id)
        row = s.get(NotificationPreference, user_id) or NotificationPreference(user_id=user_id)
        row.email_kinds = ",".join(k for k in KINDS if k in set(email))
        row.bot_kinds = ",".join(k for k in KINDS if k in set(bot))
        row.quiet_start, row.quiet_end = start or None, end or None
        row.urgent_in_quiet = bool(urgent_in_quiet)
        row.updated_at = ctx.now()
        s.add(row)
        return _from_row(row)


def _hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def quiet_until(prefs: Preferences, kind: str, now: datetime, zone: str) -> datetime | None:
    """When the user's quiet hours that hold `now` end (aware UTC-comparable), or None if a message
    of `kind` may go now."""
    if not prefs.quiet_start or not prefs.quiet_end:
        return None
    if kind in URGENT and prefs.urgent_in_quiet:
        return None
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    start, end = _hhmm(prefs.quiet_start), _hhmm(prefs.quiet_end)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        quiet = start <= clock < end
        end_day = local.date()
    else:  # over midnight: 22:00-08:00
        quiet = clock >= start or clock < end
        end_day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not quiet:
        return None
    return datetime.combine(end_day, end, tzinfo=tz)


def email_address(ctx: Services, user_id: str) -> str | None:
    """The address the user's emails go to (None: they get none)."""
    with ctx.db.read() as s:
        return s.scalar(select(AppUser.email).where(AppUser.id == user_id))
