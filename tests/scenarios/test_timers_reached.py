"""The product diagrams' timers wait for the flow when every command reads the request from the
database (as in another web worker): the meeting's start and, inside the conflict subprocess, the
deadline of the confirmations. (The flow fixture replays every instance when a test ends.)"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.scenarios.steps import AGREE, CLASSIFY, HEADS, POSITION, beijing, to_organise, to_plan, write_plan

LEAD, PRD, SAL = HEADS["MKT"], HEADS["PRD"], HEADS["SAL"]
DISAGREE = {"approval_decision": "不同意", "approval_comment": "销售部11月人手不足"}
NOTICE = {"meeting_agenda": "明确各部门分工、完成时间和验收标准", "meeting_place": "3楼会议室",
          "meeting_attendees": ["chenzongjian", "huangjingli", "xiaowang"]}


@pytest.fixture
def cold(flow):
    """The driver with no workflow kept between commands."""
    flow.cold = True
    return flow


def _next_due(flow) -> datetime | None:
    due = flow.describe()["next_due_at"]
    return datetime.fromisoformat(due) if due else None


def test_the_meeting_starts_only_once_its_notice_went_out(cold):
    flow = cold
    to_organise(flow)
    flow.complete("organise_coordination", {"coordination_mode": "召开协调会", "meeting_time": "2026-11-05T10:00"})
    assert _next_due(flow) == beijing("2026-11-04 10:00")  # the notice's deadline; the meeting is not reached
    flow.advance_to(beijing("2026-11-04 10:00"), days=1)
    assert (flow.status, flow.open_elements()) == ("running", ["organise_coordination"])  # no notice: again
    assert flow.timers_fired() == ["notice_deadline_timer"]

    flow.complete("organise_coordination", {"coordination_mode": "召开协调会", "meeting_time": "2026-11-09T10:00"})
    assert _next_due(flow) == beijing("2026-11-08 10:00")
    flow.complete("send_meeting_notice", NOTICE)
    assert _next_due(flow) == beijing("2026-11-09 10:00")  # now the meeting's start
    flow.advance_to(beijing("2026-11-09 09:59"), days=1)
    assert flow.open_tasks() == []
    flow.advance(minutes=1)
    assert flow.timers_fired() == ["notice_deadline_timer", "meeting_starts"]
    assert flow.open_elements() == ["record_minutes"]


def test_the_confirmation_deadline_in_the_conflict_subprocess_starts_with_the_confirmations(cold):
    flow = cold
    to_plan(flow)
    write_plan(flow)
    flow.complete_each("approve_plan", {PRD: AGREE, SAL: DISAGREE})
    flow.complete("classify_conflict", CLASSIFY)
    assert _next_due(flow) is None
    flow.advance(days=4)
    assert flow.timers_fired() == []
    assert flow.assignees("state_positions") == sorted([LEAD, SAL])

    flow.complete_each("state_positions", {LEAD: POSITION, SAL: POSITION})
    flow.complete("propose_solution", {"conflict_solution": "技术部支援2人，时间顺延3天"})
    assert _next_due(flow) == flow.clock.now + timedelta(days=3)
    flow.advance(days=3)
    assert flow.timers_fired() == ["confirm_deadline_timer"]
    assert flow.open_elements() == ["arbitrate"]
