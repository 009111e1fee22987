"""Administrators' calendar rulings in the database, and the calendar built from them."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from engine.bootstrap import bootstrap
from engine.config import EngineConfig
from engine.db.models import CalendarDay
from engine.errors import InvalidInput, PermissionDenied
from engine.messages import Msg
from engine.org.calendar import calendar_warnings, clear_day, list_days, load_calendar, set_day
from engine.org.workdays import statutory_year_known
from tests.helpers import add_user, said

SH = ZoneInfo("Asia/Shanghai")
MAKE_UP_SATURDAY = date(2026, 10, 10)  # 国庆节调休：10月10日（周六）上班 (2026 State Council schedule)
WARNING_2035 = Msg("calendar.year_unknown", year=2035)


@pytest.fixture
def admin(ctx):
    add_user(ctx, "zhang", "platform_admins")
    return "zhang"


def test_an_admin_ruling_changes_the_calendar_and_clearing_restores_the_statutory_rule(ctx, clock, admin):
    submitted = datetime(2026, 9, 30, 10, 0, tzinfo=SH)
    assert load_calendar(ctx).is_workday(MAKE_UP_SATURDAY)
    assert load_calendar(ctx).response_due(submitted, "普通") == datetime(2026, 10, 10, 2, 0, tzinfo=UTC)

    row = set_day(ctx, MAKE_UP_SATURDAY, False, " 园区停电，调休取消 ", admin)
    assert row == {"day": "2026-10-10", "workday": False, "note": "园区停电，调休取消", "set_by": "zhang",
                   "set_at": clock.now.isoformat()}
    assert list_days(ctx, 2026) == [row]
    calendar = load_calendar(ctx)
    assert not calendar.is_workday(MAKE_UP_SATURDAY)
    assert calendar.response_due(submitted, "普通") == datetime(2026, 10, 12, 2, 0, tzinfo=UTC)  # Monday

    assert clear_day(ctx, "2026-10-10", admin) is True
    assert list_days(ctx, 2026) == []
    assert load_calendar(ctx).is_workday(MAKE_UP_SATURDAY)
    assert clear_day(ctx, MAKE_UP_SATURDAY, admin) is False


def test_ruling_a_day_again_replaces_the_ruling_within_one_clock_tick(ctx, clock, admin):
    set_day(ctx, date(2035, 10, 8), False, "国庆", admin)
    assert not load_calendar(ctx).is_workday(date(2035, 10, 8))
    set_day(ctx, "2035-10-08", True, "", admin)  # the clock has not moved
    assert load_calendar(ctx).is_workday(date(2035, 10, 8))
    assert [d["workday"] for d in list_days(ctx, 2035)] == [True]


def test_a_non_admin_is_refused_and_nothing_changes(ctx, admin):
    add_user(ctx, "li", "team", "admins")
    set_day(ctx, MAKE_UP_SATURDAY, False, "", admin)
    before = list_days(ctx, 2026)
    not_admin = ("admin.required", {"user": "li", "action": {"code": "action.calendar", "params": {}}})
    with pytest.raises(PermissionDenied) as refused:
        set_day(ctx, date(2026, 10, 9), False, "", "li")
    assert said(refused) == not_admin
    assert str(refused.value) == "用户 li 不是平台管理员，不能修改工作日历"
    with pytest.raises(PermissionDenied) as refused:
        clear_day(ctx, MAKE_UP_SATURDAY, "li")
    assert said(refused) == not_admin
    with pytest.raises(PermissionDenied):
        set_day(ctx, date(2026, 10, 9), False, "", "nobody")
    assert list_days(ctx, 2026) == before
    calendar = load_calendar(ctx)
    assert calendar.is_workday(date(2026, 10, 9)) and not calendar.is_workday(MAKE_UP_SATURDAY)


@pytest.mark.parametrize(("day", "workday", "note", "code", "params", "text"), [
    ("2026-13-01", False, "", "date.invalid", {"given": "2026-13-01"}, "不是有效的日期"),
    ("next friday", False, "", "date.invalid", {"given": "next friday"}, "不是有效的日期"),
    (20261010, False, "", "date.invalid", {"given": "20261010"}, "不是有效的日期"),
    (datetime(2026, 10, 10, tzinfo=UTC), False, "", "date.with_time", {"given": "2026-10-10T00:00:00+00:00"},
     "不能带时间"),
    (date(2026, 10, 10), "no", "", "calendar.workday", {"given": "'no'"}, "workday"),
    (date(2026, 10, 10), False, "x" * 256, "text.too_long",
     {"what": {"code": "what.note", "params": {}}, "n": 256, "most": 255}, "备注太长（256 字，最多 255 字）"),
])
def test_bad_input_is_refused_with_what_is_wrong(ctx, admin, day, workday, note, code, params, text):
    with pytest.raises(InvalidInput) as refused:
        set_day(ctx, day, workday, note, admin)
    assert said(refused) == (code, params)
    assert text in str(refused.value)
    assert list_days(ctx, 2026) == []


def test_list_days_refuses_a_year_that_is_not_a_number(ctx):
    with pytest.raises(InvalidInput) as refused:
        list_days(ctx, "2026")
    assert said(refused) == ("calendar.year", {"given": "'2026'"})
    assert str(refused.value) == "年份应为 1 到 9999 之间的整数，收到的是 '2026'"


def test_warnings_disappear_once_the_admin_rules_dates_of_the_unknown_year(ctx, admin):
    assert not statutory_year_known(2035), "chinese_calendar now knows 2035: pick a later year for this test"
    assert calendar_warnings(ctx, [2026, 2035]) == [WARNING_2035]
    assert load_calendar(ctx).is_workday(date(2035, 1, 1))  # Monday, weekend rule only

    set_day(ctx, date(2035, 1, 1), False, "元旦", admin)
    assert calendar_warnings(ctx, [2026, 2035]) == []
    assert not load_calendar(ctx).is_workday(date(2035, 1, 1))

    clear_day(ctx, date(2035, 1, 1), admin)
    assert calendar_warnings(ctx, [2035]) == [WARNING_2035]


def test_a_ruling_made_through_one_process_is_seen_by_another(ctx, clock, admin):
    other = bootstrap(EngineConfig(database_url=ctx.config.database_url, clock=clock), migrate=False)
    try:
        assert load_calendar(other).is_workday(date(2026, 10, 9))
        set_day(ctx, date(2026, 10, 9), False, "", admin)
        assert not load_calendar(other).is_workday(date(2026, 10, 9))
        clear_day(other, date(2026, 10, 9), admin)
        assert load_calendar(ctx).is_workday(date(2026, 10, 9))
    finally:
        other.db.dispose()


def test_two_admins_ruling_the_same_new_day_at_once_both_succeed_last_one_wins(ctx, clock, admin):
    if not ctx.db.is_postgres:
        pytest.skip("SQLite takes the write lock up front: two writers never insert the same row at once")
    add_user(ctx, "wang", "platform_admins")
    outcome: dict = {}

    def second_admin():
        try:
            outcome["row"] = set_day(ctx, date(2035, 5, 1), True, "second", "wang")
        except Exception as exc:  # reported by the assertion below
            outcome["error"] = exc

    thread = threading.Thread(target=second_admin)
    with ctx.db.write() as s:
        # The first admin's insert is flushed but not committed: the second one's insert waits on it.
        s.add(CalendarDay(day=date(2035, 5, 1), workday=False, note="first", set_by=admin, set_at=clock.now))
        s.flush()
        thread.start()
        deadline = time.monotonic() + 10
        while not _waiting_on_a_lock(ctx) and thread.is_alive():
            assert time.monotonic() < deadline, "the second insert never waited on the first"
            time.sleep(0.01)
    thread.join(10)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["row"]["note"] == "second"
    assert [(d["workday"], d["set_by"]) for d in list_days(ctx, 2035)] == [(True, "wang")]


def _waiting_on_a_lock(ctx) -> bool:
    with ctx.db.read() as s:
        return bool(s.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query LIKE '%calendar_day%'")))
