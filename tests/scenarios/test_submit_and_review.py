"""Step 1 and 2 of the flow: filing, the department head's sign-off, the admin's review.

Also the response deadlines of the three urgency levels (acceptance criterion a).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import chinese_calendar
import pytest

from tests.scenarios.steps import REQUEST, REQUESTER, REQUESTER_HEAD, admins, beijing, to_review


def test_signoff_returned_to_the_requester_who_resubmits(flow):
    detail = flow.submit(REQUESTER, REQUEST)
    assert detail["business_key"] == "XMBG-202611001"
    assert flow.notifications() == [(REQUESTER, "info", "需求已提交，编号 XMBG-202611001：双十一大促跨部门协作")]
    signoff = flow.task("dept_head_signoff")
    assert signoff["assignee"] == REQUESTER_HEAD  # head of 市场部, 小王's department
    assert signoff["due_at"] == flow.clock.now + timedelta(hours=24)  # 紧急

    flow.notifications(new_tasks=True)
    flow.complete("dept_head_signoff", {"signoff_decision": "退回", "signoff_comment": "目标缺少时限，请补充"})
    assert flow.open_elements() == ["revise_request"]
    # the requester is told of the return and why, once (no generic new-task notice besides)
    assert flow.notifications(new_tasks=True) == [
        (REQUESTER, "return", "需求 XMBG-202611001 被发起部门负责人退回，请补充修改后重新提交：目标缺少时限，请补充")]
    assert flow.task("revise_request")["assignee"] == REQUESTER
    shown = flow.form("revise_request")
    assert shown["signoff_comment"] == "目标缺少时限，请补充"
    assert (shown["title"], shown["involved_depts"]) == (REQUEST["title"], REQUEST["involved_depts"])

    goal = "11月11日当天销售额同比增长30%，11月30日前完成复盘"
    flow.complete("revise_request", {**REQUEST, "goal": goal})
    assert flow.task("dept_head_signoff")["assignee"] == REQUESTER_HEAD
    assert flow.notifications(new_tasks=True) == [
        (REQUESTER_HEAD, "task", "新任务：发起部门负责人签批（需求 XMBG-202611001）")]
    # the head decides afresh: the form does not open with the decision that returned the request
    assert not {"signoff_decision", "signoff_comment"} & flow.opening("dept_head_signoff").keys()
    assert flow.form("dept_head_signoff")["goal"] == goal
    flow.complete("dept_head_signoff", {"signoff_decision": "同意", "signoff_comment": "同意提交"})

    review = flow.task("admin_review")
    assert (review["assignee"], review["candidate_groups"], review["priority"]) == (None, ["platform_admins"], 80)
    # a group's task is announced to every member of the group
    assert sorted(flow.notifications(new_tasks=True)) == [
        (admin, "task", "新任务：审核需求完整性与可行性（需求 XMBG-202611001）") for admin in sorted(admins(flow.ctx))]
    for admin in admins(flow.ctx):
        assert review["task_id"] in flow.inbox(admin)
    assert flow.form("admin_review")["goal"] == goal
    assert [actor for actor, _ in flow.completed_by("dept_head_signoff")] == [REQUESTER_HEAD] * 2
    assert flow.completed_by("revise_request") == [(REQUESTER, {"data": {**REQUEST, "goal": goal}, "form": True})]
    assert flow.notifications() == []


def test_admin_returns_for_supplement_with_a_reason_and_the_requester_resubmits(flow):
    to_review(flow)
    reason = "涉及部门未勾选物流部，请补充"
    flow.complete("admin_review", {"review_decision": "退回补充", "review_comment": reason})
    assert flow.open_elements() == ["revise_request"]
    assert flow.task("revise_request")["assignee"] == REQUESTER
    assert flow.form("revise_request")["review_comment"] == reason

    flow.complete("revise_request", {**REQUEST, "involved_depts": ["MKT", "PRD", "SAL", "LOG"]})
    flow.complete("dept_head_signoff", {"signoff_decision": "同意", "signoff_comment": "已补充物流部"})
    flow.complete("admin_review", {"review_decision": "通过", "review_comment": "信息完整"})
    assert flow.open_elements() == ["dispatch_lead"]
    assert flow.task("dispatch_lead")["candidate_groups"] == ["platform_admins"]
    assert flow.form("dispatch_lead")["involved_depts"] == ["MKT", "PRD", "SAL", "LOG"]
    decisions = [d["data"]["review_decision"] for _, d in flow.completed_by("admin_review")]
    assert decisions == ["退回补充", "通过"]


def test_rejection_ends_the_request_and_tells_the_requester_why(flow):
    to_review(flow)
    flow.notifications()
    flow.complete("admin_review", {"review_decision": "拒绝", "review_comment": "超出本季度预算"}, as_user="xiaozhou")

    assert flow.status == "completed"
    assert flow.open_tasks() == []
    assert flow.notifications() == [(REQUESTER, "info", "需求 XMBG-202611001 未通过审核，原因：超出本季度预算")]
    reached = flow.reached()
    assert {"notify_rejected", "request_rejected"} <= reached
    assert not reached & {"dispatch_lead", "request_closed"}
    history = flow.history()
    assert [(e["type"], e["element_id"], e["actor"]) for e in history[-2:]] == [
        ("task_completed", "admin_review", "xiaozhou"), ("instance_completed", "request_rejected", "xiaozhou")]


def test_a_normal_request_filed_before_national_day_is_due_three_working_days_after_it(flow):
    # The 2026 statutory schedule: 1-7 October off, Thursday 8 and Friday 9 October are working
    # days, and so is Saturday 10 October (调休 make-up day).
    assert all(chinese_calendar.is_holiday(date(2026, 10, d)) for d in range(1, 8))
    assert all(chinese_calendar.is_workday(date(2026, 10, d)) for d in (8, 9, 10))
    assert chinese_calendar.is_workday(date(2026, 9, 30))

    flow.clock.now = datetime(2026, 9, 30, 9, 0, tzinfo=UTC)  # Wednesday 30 September, 17:00 in Beijing
    flow.submit(REQUESTER, {**REQUEST, "urgency": "普通"})
    assert flow.task("dept_head_signoff")["due_at"] == beijing("2026-10-10 17:00")

    flow.clock.now = beijing("2026-10-08 10:00")  # the head signs off on the first day back
    flow.complete("dept_head_signoff", {"signoff_decision": "同意", "signoff_comment": "同意提交"})
    assert flow.task("admin_review")["due_at"] == beijing("2026-10-12 10:00")  # 9, 10 (Sat) and 12 October


@pytest.mark.parametrize(("urgency", "hours"), [("紧急", 24), ("特急", 4)])
def test_urgent_requests_are_due_in_hours_whatever_the_calendar(flow, urgency, hours):
    flow.clock.now = datetime(2026, 9, 30, 9, 0, tzinfo=UTC)  # the holiday starts in 7 hours
    flow.submit(REQUESTER, {**REQUEST, "urgency": urgency})
    assert flow.task("dept_head_signoff")["due_at"] == flow.clock.now + timedelta(hours=hours)
    flow.advance(hours=1)
    flow.complete("dept_head_signoff", {"signoff_decision": "同意", "signoff_comment": "同意提交"})
    assert flow.task("admin_review")["due_at"] == flow.clock.now + timedelta(hours=hours)


@pytest.mark.parametrize(("urgency", "late_after"), [("特急", timedelta(hours=4)), ("紧急", timedelta(hours=24))])
def test_a_review_late_beyond_the_response_time_is_escalated_to_every_admin(flow, urgency, late_after):
    to_review(flow, urgency=urgency)
    flow.notifications()
    flow.advance(seconds=late_after.total_seconds() - 60)
    assert flow.notifications() == []
    flow.advance(minutes=1)
    message = f"需求 XMBG-202611001（{REQUEST['title']}，{urgency}）已超过响应时限仍未审核，请尽快处理"
    assert flow.notifications() == [(admin, "escalation", message) for admin in admins(flow.ctx)]
    assert flow.timers_fired() == ["review_sla_timer"]
    assert flow.open_elements() == ["admin_review"]  # the review stays where it was
    flow.advance(days=3)
    assert flow.notifications() == []  # escalated once


def test_a_normal_review_is_late_after_three_working_days_of_the_calendar(flow):
    flow.clock.now = beijing("2026-09-30 18:00")  # the eve of the National Day holiday (1-7 October)
    to_review(flow, urgency="普通")
    due = beijing("2026-10-10 18:00")  # three working days: 8, 9 and 10 October (a make-up Saturday)
    assert flow.task("admin_review")["due_at"] == due
    flow.notifications()
    flow.advance_to(due - timedelta(minutes=1), days=1)
    assert flow.notifications() == []
    flow.advance(minutes=1)
    assert [kind for _, kind, _ in flow.notifications()] == ["escalation"] * len(admins(flow.ctx))
