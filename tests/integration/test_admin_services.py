"""The reads and commands the administration pages need: absences still to come, a user switched off
and on, a password reset by an admin, and a year of the working calendar as an admin reviews it."""

from __future__ import annotations

from datetime import date

import pytest

from engine.errors import InvalidInput, NotFound, PermissionDenied
from engine.messages import Msg
from engine.org.accounts import account, check_password, reset_password
from engine.org.calendar import set_day, year_view
from engine.org.directory import add_substitute, directory, list_absences
from engine.org.users import set_active
from tests.helpers import add_user, said


@pytest.fixture
def people(ctx):
    add_user(ctx, "admin", "platform_admins")
    add_user(ctx, "wang")
    add_user(ctx, "li")
    return ctx


def test_absences_listed_are_those_not_over_yet_earliest_first(people, clock):
    # The clock reads 2026-09-30 (Beijing date too).
    past = add_substitute(people, "wang", "li", date(2026, 9, 1), date(2026, 9, 29), "年假", "wang")
    current = add_substitute(people, "li", "wang", date(2026, 9, 28), date(2026, 10, 2), "出差", "admin")
    future = add_substitute(people, "wang", "li", date(2026, 10, 8), date(2026, 10, 9), "", "admin")
    listed = list_absences(people)
    assert [a["id"] for a in listed] == [current, future]
    assert listed[0] | {"created_at": None} == {
        "id": current, "user_id": "li", "substitute_id": "wang", "starts_on": "2026-09-28", "ends_on": "2026-10-02",
        "reason": "出差", "created_by": "admin", "created_at": None, "current": True}
    assert listed[1]["current"] is False
    assert [a["id"] for a in list_absences(people, user_id="wang")] == [future]
    assert [a["id"] for a in list_absences(people, since=date(2026, 9, 1))] == [past, current, future]


def test_an_admin_switches_a_user_off_and_on(people):
    directory(people)  # a snapshot taken before the change must not be served after it
    assert set_active(people, "wang", False, "admin") is True
    assert account(people, "wang") is None
    assert directory(people).users["wang"]["active"] is False
    assert set_active(people, "wang", False, "admin") is False  # already so: nothing changes
    assert set_active(people, "wang", True, "admin") is True
    assert account(people, "wang").id == "wang"
    with pytest.raises(PermissionDenied):
        set_active(people, "li", False, "wang")
    with pytest.raises(InvalidInput) as refused:
        set_active(people, "admin", False, "admin")
    assert said(refused) == ("user.deactivate_self", {"user": "admin"})
    assert str(refused.value) == "admin 不能停用自己（可由另一位平台管理员停用）"
    with pytest.raises(NotFound) as refused:
        set_active(people, "nobody", False, "admin")
    assert said(refused) == ("user.unknown", {"user": "nobody"})
    assert account(people, "li") is not None and account(people, "admin") is not None


def test_an_admin_sets_a_new_password(people):
    reset_password(people, "wang", "新的密码-2026", "admin")
    assert check_password(people, "wang", "新的密码-2026").id == "wang"
    with pytest.raises(PermissionDenied):
        reset_password(people, "li", "another-password", "wang")
    assert check_password(people, "li", "another-password") is None
    with pytest.raises(InvalidInput) as refused:
        reset_password(people, "wang", "short", "admin")
    assert (said(refused), str(refused.value)) == (("password.too_short", {"least": 8}), "密码至少 8 个字符")
    with pytest.raises(NotFound):
        reset_password(people, "nobody", "long enough", "admin")
    assert check_password(people, "wang", "新的密码-2026") is not None


def test_a_year_view_has_the_statutory_base_the_holidays_and_the_rulings(people):
    set_day(people, "2026-10-09", False, "公司周年庆", "admin")
    view = year_view(people, 2026)
    assert view["known"] is True and view["warnings"] == [] and len(view["days"]) == 365
    by_day = {d["day"]: d for d in view["days"]}
    national = by_day[date(2026, 10, 1)]
    assert (national["base"], national["holiday"], national["workday"], national["ruling"]) == (False, "国庆节", False,
                                                                                                None)
    make_up = by_day[date(2026, 10, 10)]  # a Saturday worked in exchange for the National Day holiday
    assert (make_up["base"], make_up["holiday"], make_up["workday"]) == (True, "国庆节", True)
    ruled = by_day[date(2026, 10, 9)]
    assert (ruled["base"], ruled["workday"], ruled["ruling"]["note"], ruled["ruling"]["set_by"]) == (
        True, False, "公司周年庆", "admin")
    assert by_day[date(2026, 10, 12)] | {"day": None} == {"day": None, "base": True, "holiday": None,
                                                          "holiday_en": None, "ruling": None, "workday": True}
    assert (national["holiday_en"], make_up["holiday_en"]) == ("National Day", "National Day")  # for English pages


def test_a_year_chinese_calendar_does_not_know_is_counted_by_weekends_with_a_warning(people):
    view = year_view(people, 2035)
    assert view["known"] is False
    assert view["warnings"] == [Msg("calendar.year_unknown", year=2035)]
    assert [str(w) for w in view["warnings"]] == [
        "2035年的法定节假日安排尚未收录，目前仅按周末计算工作日；请平台管理员补充。"]
    by_day = {d["day"]: d for d in view["days"]}
    assert by_day[date(2035, 10, 1)]["base"] is True and by_day[date(2035, 10, 1)]["holiday"] is None  # a Monday
    assert by_day[date(2035, 10, 6)]["base"] is False  # a Saturday
    set_day(people, "2035-10-01", False, "国庆节", "admin")
    view = year_view(people, 2035)
    assert view["warnings"] == [] and view["known"] is False  # taken in hand, still weekends otherwise
    with pytest.raises(InvalidInput):
        year_view(people, 0)
