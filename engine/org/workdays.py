"""Working days under China's statutory calendar (holidays and 调休 make-up days), with admin rulings.

The statutory schedule comes from `chinese_calendar`, which only knows the years the State Council
has published. A date an administrator has ruled on wins over it, and a year nobody knows falls
back to "Monday to Friday are working days" with a visible warning, so due dates are never
silently wrong without someone being told.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from functools import cache
from types import MappingProxyType
from zoneinfo import ZoneInfo

import chinese_calendar

from engine.errors import InvalidInput
from engine.messages import Msg

# Working days are counted by the date on the wall in China, whatever zone a timestamp arrives in.
LOCAL_TZ = ZoneInfo("Asia/Shanghai")

# Urgency levels of a request, least urgent first, and how long the receiving side has to respond.
# 普通 follows office days; the urgent levels are promised in elapsed hours, holidays included.
URGENCIES: tuple[str, ...] = ("普通", "紧急", "特急")
_RESPONSE_WORKING_DAYS = {"普通": 3}
_RESPONSE_HOURS = {"紧急": 24, "特急": 4}

UNKNOWN_YEAR = "calendar.year_unknown"  # the warning's message, with the year


@cache
def statutory_year_known(year: int) -> bool:
    """True when chinese_calendar has the statutory schedule of `year`."""
    # chinese_calendar covers a contiguous range of years and raises for any date outside it;
    # asking once per year keeps the exception off the per-day path.
    try:
        chinese_calendar.is_workday(date(year, 7, 1))
    except NotImplementedError:
        return False
    return True


def local_date(value: date | datetime) -> date:
    """The Asia/Shanghai calendar date of an aware datetime; a plain date is returned as is."""
    if isinstance(value, datetime):
        return _aware(value).astimezone(LOCAL_TZ).date()
    return value


def _aware(value: datetime) -> datetime:
    # A naive datetime could be UTC or Beijing time; guessing would shift due dates by 8 hours.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"datetime {value.isoformat()} has no time zone")
    return value


class WorkCalendar:
    """Which dates are working days: admin rulings, then the statutory calendar, then weekends."""

    def __init__(self, overrides: Mapping[date, bool] | None = None):
        rulings: dict[date, bool] = {}
        for day, workday in (overrides or {}).items():
            # A datetime key would never match the dates looked up below.
            if isinstance(day, datetime) or not isinstance(day, date):
                raise TypeError(f"override keys must be dates, not {type(day).__name__}")
            rulings[day] = bool(workday)
        self._overrides = MappingProxyType(rulings)
        self._ruled_years = frozenset(d.year for d in rulings)

    @property
    def overrides(self) -> Mapping[date, bool]:
        """The administrators' rulings, read-only."""
        return self._overrides

    def is_workday(self, d: date | datetime) -> bool:
        """True if `d` (a date, or an aware datetime taken at its Beijing date) is a working day."""
        day = local_date(d)
        ruling = self._overrides.get(day)
        if ruling is not None:
            return ruling
        if statutory_year_known(day.year):
            return chinese_calendar.is_workday(day)
        return day.weekday() < 5

    def known(self, d: date | datetime) -> bool:
        """True if `d` is decided by statutory data or an admin ruling, not by the weekend fallback."""
        day = local_date(d)
        return day in self._overrides or statutory_year_known(day.year)

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """The same Beijing time of day on the n-th working day after start's local date, in UTC."""
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"n must be an int, not {type(n).__name__}")
        if n < 0:
            raise ValueError(f"n must not be negative, got {n}")
        local = _aware(start).astimezone(LOCAL_TZ)
        if n == 0:
            return local.astimezone(UTC)
        day = local.date()
        remaining = n
        while remaining:
            day += timedelta(days=1)
            if self.is_workday(day):
                remaining -= 1
        # Asia/Shanghai has had no DST since 1991, so the wall time exists on every date.
        return datetime.combine(day, local.time(), tzinfo=LOCAL_TZ).astimezone(UTC)

    def response_due(self, submitted: datetime, urgency: str) -> datetime:
        """When the response to a request of this urgency is due, in UTC."""
        if urgency in _RESPONSE_WORKING_DAYS:
            return self.add_working_days(submitted, _RESPONSE_WORKING_DAYS[urgency])
        if urgency in _RESPONSE_HOURS:
            return _aware(submitted).astimezone(UTC) + timedelta(hours=_RESPONSE_HOURS[urgency])
        raise InvalidInput("choice.unknown", what=Msg("what.urgency"), given=urgency, known=list(URGENCIES))

    def working_days_between(self, a: date | datetime, b: date | datetime) -> int:
        """How many working days lie in (a, b] by Beijing date; 0 when b is not after a."""
        first, last = local_date(a), local_date(b)
        count = 0
        day = first + timedelta(days=1)
        while day <= last:
            if self.is_workday(day):
                count += 1
            day += timedelta(days=1)
        return count

    def warnings(self, years: Iterable[int]) -> list[Msg]:
        """One warning (a message naming the year) per year that is counted by weekends only, in year order.

        A year is covered when chinese_calendar has its schedule, or when an administrator has
        ruled on at least one of its dates: rulings are entered together once the State Council
        publishes the year's schedule, so the first one means somebody has taken the year in
        hand, and rulings are not required for days the weekend rule already gets right.
        """
        return [Msg(UNKNOWN_YEAR, year=year) for year in sorted(set(years))
                if not statutory_year_known(year) and year not in self._ruled_years]
