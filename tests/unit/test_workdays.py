"""Working-day arithmetic against China's statutory calendar and admin rulings; no database.

Expected dates come from 国务院办公厅关于2026年部分节假日安排的通知 (the State Council's 2026
schedule), whose relevant lines are:
  元旦：1月1日至3日放假调休，共3天。1月4日（周日）上班。
  春节：2月15日至23日放假调休，共9天。2月14日（周六）、2月28日（周六）上班。
  清明节：4月4日至6日放假，共3天。
  劳动节：5月1日至5日放假调休，共5天。5月9日（周六）上班。
  端午节：6月19日至21日放假，共3天。
  中秋节：9月25日至27日放假，共3天。
  国庆节：10月1日至7日放假调休，共7天。9月20日（周日）、10月10日（周六）上班。
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from engine.errors import InvalidInput
from engine.messages import Msg
from engine.org.workdays import URGENCIES, WorkCalendar, statutory_year_known

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar()
WARNING_2035 = Msg("calendar.year_unknown", year=2035)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def test_the_installed_data_follows_the_published_2026_schedule():
    # Holidays, including the weekdays among them, are rest days.
    for day in _days(date(2026, 2, 15), date(2026, 2, 23)) + _days(date(2026, 10, 1), date(2026, 10, 7)):
        assert not CAL.is_workday(day), day
    # Make-up days are working days although they fall on a weekend.
    for day in (date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9), date(2026, 9, 20),
                date(2026, 10, 10)):
        assert day.weekday() >= 5 and CAL.is_workday(day), day
    assert CAL.known(date(2026, 6, 1))


def test_national_day_three_working_days_after_the_last_day_before_the_holiday():
    start = datetime(2026, 9, 30, 10, 0, tzinfo=SH)  # Wednesday; Oct 1-7 are off
    assert CAL.add_working_days(start, 1) == datetime(2026, 10, 8, 10, 0, tzinfo=SH)  # Thursday
    assert CAL.add_working_days(start, 2) == datetime(2026, 10, 9, 10, 0, tzinfo=SH)  # Friday
    due = CAL.add_working_days(start, 3)
    assert due == datetime(2026, 10, 10, 2, 0, tzinfo=UTC)  # Saturday Oct 10, a make-up day, 10:00 Beijing
    assert due.tzinfo is UTC
    assert CAL.response_due(start, "普通") == due


def test_spring_festival_2026():
    start = datetime(2026, 2, 13, 15, 30, tzinfo=SH)  # Friday before the holiday
    assert CAL.add_working_days(start, 1) == datetime(2026, 2, 14, 7, 30, tzinfo=UTC)  # Sat Feb 14, make-up day
    assert CAL.add_working_days(start, 2) == datetime(2026, 2, 24, 7, 30, tzinfo=UTC)  # Tue, first day back
    assert CAL.response_due(start, "普通") == datetime(2026, 2, 25, 7, 30, tzinfo=UTC)  # Wednesday


def test_make_up_weekend_days_count_as_working_days():
    assert CAL.add_working_days(datetime(2026, 2, 26, 9, 0, tzinfo=SH), 2) == datetime(2026, 2, 28, 9, 0, tzinfo=SH)
    assert CAL.add_working_days(datetime(2026, 9, 18, 9, 0, tzinfo=SH), 1) == datetime(2026, 9, 20, 9, 0, tzinfo=SH)


def test_an_ordinary_weekend_is_skipped():
    assert CAL.add_working_days(datetime(2026, 3, 6, 18, 0, tzinfo=SH), 1) == datetime(2026, 3, 9, 18, 0, tzinfo=SH)


def test_days_are_counted_from_the_beijing_date_not_the_utc_date():
    # Friday 17:00 UTC is already Saturday 01:00 in Beijing: the next working day is Monday, 01:00 Beijing.
    start = datetime(2026, 3, 6, 17, 0, tzinfo=UTC)
    assert CAL.add_working_days(start, 1) == datetime(2026, 3, 8, 17, 0, tzinfo=UTC)
    assert CAL.is_workday(datetime(2026, 3, 6, 15, 59, tzinfo=UTC))  # Friday 23:59 Beijing
    assert not CAL.is_workday(datetime(2026, 3, 6, 16, 0, tzinfo=UTC))  # Saturday 00:00 Beijing


def test_zero_negative_and_naive_arguments():
    start = datetime(2026, 3, 6, 10, 0, tzinfo=SH)
    assert CAL.add_working_days(start, 0) == start
    with pytest.raises(ValueError, match="negative"):
        CAL.add_working_days(start, -1)
    with pytest.raises(ValueError, match="time zone"):
        CAL.add_working_days(datetime(2026, 3, 6, 10, 0), 1)


def test_urgent_levels_are_elapsed_hours_even_across_a_holiday():
    submitted = datetime(2026, 9, 30, 10, 0, tzinfo=SH)
    assert URGENCIES == ("普通", "紧急", "特急")
    assert CAL.response_due(submitted, "紧急") == datetime(2026, 10, 1, 2, 0, tzinfo=UTC)  # National Day itself
    assert CAL.response_due(submitted, "特急") == datetime(2026, 9, 30, 6, 0, tzinfo=UTC)
    assert CAL.response_due(datetime(2026, 10, 1, 23, 0, tzinfo=UTC), "特急").tzinfo is UTC


def test_an_unknown_urgency_is_refused_by_name():
    with pytest.raises(InvalidInput) as err:
        CAL.response_due(datetime(2026, 9, 30, 10, 0, tzinfo=SH), "加急")
    assert "加急" in err.value.message
    assert all(name in err.value.message for name in URGENCIES)


def test_a_year_without_statutory_data_counts_weekends_only_and_warns():
    assert not statutory_year_known(2035), "chinese_calendar now knows 2035: pick a later year for this test"
    assert not CAL.known(date(2035, 1, 1))
    # Monday Jan 1 2035 is New Year's Day, but nothing tells the calendar so yet.
    assert CAL.is_workday(date(2035, 1, 1))
    assert not CAL.is_workday(date(2035, 1, 6))  # Saturday
    assert CAL.add_working_days(datetime(2035, 1, 5, 10, 0, tzinfo=SH), 1) == datetime(2035, 1, 8, 10, 0, tzinfo=SH)
    assert CAL.warnings([2026, 2035, 2035]) == [WARNING_2035]
    assert str(WARNING_2035) == "2035年的法定节假日安排尚未收录，目前仅按周末计算工作日；请平台管理员补充。"
    assert WARNING_2035.text("en") == ("The statutory holidays of 2035 are not known yet: working days are counted "
                                       "by weekends only until a platform admin enters them.")
    assert CAL.warnings([2026]) == []


def test_an_override_makes_an_unknown_year_weekday_a_rest_day_and_covers_the_year():
    ruled = WorkCalendar({date(2035, 1, 1): False})  # 元旦
    friday = datetime(2034, 12, 29, 10, 0, tzinfo=SH)
    assert CAL.add_working_days(friday, 1) == datetime(2035, 1, 1, 10, 0, tzinfo=SH)
    assert ruled.add_working_days(friday, 1) == datetime(2035, 1, 2, 10, 0, tzinfo=SH)
    assert not ruled.is_workday(date(2035, 1, 1))
    assert ruled.known(date(2035, 1, 1)) and not ruled.known(date(2035, 1, 2))
    assert ruled.warnings([2034, 2035]) == [Msg("calendar.year_unknown", year=2034)]


def test_an_override_wins_over_the_statutory_calendar_and_the_weekend():
    ruled = WorkCalendar({date(2026, 10, 10): False, date(2026, 10, 8): True, date(2035, 1, 6): True})
    assert not ruled.is_workday(date(2026, 10, 10))
    due = ruled.add_working_days(datetime(2026, 9, 30, 10, 0, tzinfo=SH), 3)
    assert due == datetime(2026, 10, 12, 10, 0, tzinfo=SH)  # Oct 8, Oct 9, then Monday Oct 12
    assert ruled.is_workday(date(2035, 1, 6))  # a Saturday ruled a working day
    assert ruled.add_working_days(datetime(2035, 1, 5, 10, 0, tzinfo=SH), 1) == datetime(2035, 1, 6, 10, 0, tzinfo=SH)


def test_working_days_between():
    submitted = datetime(2026, 9, 30, 10, 0, tzinfo=SH)
    assert CAL.working_days_between(submitted, datetime(2026, 10, 10, 2, 0, tzinfo=UTC)) == 3
    # Sat Sep 19 off, Sun Sep 20 make-up day, Mon Sep 21 working.
    assert CAL.working_days_between(date(2026, 9, 18), date(2026, 9, 21)) == 2
    # 261 weekdays in 2026, 19 of them holidays, 6 make-up weekend days.
    assert CAL.working_days_between(date(2025, 12, 31), date(2026, 12, 31)) == 248
    # 23:00 and 00:30 Beijing on either side of midnight: Oct 10 (make-up day) lies in between.
    late, early = datetime(2026, 10, 9, 15, 0, tzinfo=UTC), datetime(2026, 10, 9, 16, 30, tzinfo=UTC)
    assert CAL.working_days_between(late, early) == 1
    assert CAL.working_days_between(date(2026, 3, 9), date(2026, 3, 9)) == 0
    assert CAL.working_days_between(date(2026, 3, 9), date(2026, 3, 2)) == 0


@pytest.mark.parametrize("start", [datetime(2026, 2, 13, 8, 0, tzinfo=SH), datetime(2026, 9, 19, 8, 0, tzinfo=SH),
                                   datetime(2034, 12, 30, 8, 0, tzinfo=SH)])
def test_adding_and_counting_agree(start):
    for n in (1, 2, 5, 10, 30):
        assert CAL.working_days_between(start, CAL.add_working_days(start, n)) == n
