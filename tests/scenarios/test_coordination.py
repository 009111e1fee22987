"""Step 3: coordination with or without a meeting (notice at least 24 hours ahead), writing the plan."""

from __future__ import annotations

from datetime import timedelta

from tests.scenarios.steps import HEADS, INVOLVED, PLAN, PMO_OWNER, RISK_PLAN, beijing, to_organise, to_plan

LEAD = HEADS["MKT"]
MEETING = {"coordination_mode": "召开协调会", "meeting_time": "2026-11-05T10:00"}  # Thursday, Beijing time
NOTICE = {"meeting_agenda": "明确各部门分工、完成时间和验收标准", "meeting_place": "3楼会议室",
          "meeting_attendees": ["chenzongjian", "huangjingli", "xiaowang"]}
RESCHEDULE = "会议通知未能在会前24小时发出，会议须改期，请重新确定协调方式（需求 XMBG-202611001）"


def test_a_meeting_is_noticed_held_minuted_and_then_planned(flow):
    to_organise(flow)
    assert flow.task("organise_coordination")["assignee"] == LEAD
    flow.complete("organise_coordination", MEETING)
    notice = flow.task("send_meeting_notice")
    assert notice["assignee"] == LEAD
    assert notice["due_at"] == beijing("2026-11-04 10:00")  # 24 hours before the meeting
    assert flow.form("send_meeting_notice")["meeting_time"] == "2026-11-05T10:00:00+08:00"
    flow.notifications()

    flow.complete("send_meeting_notice", NOTICE)
    message = ("协调会通知（需求 XMBG-202611001）：明确各部门分工、完成时间和验收标准；"
               "时间：2026-11-05 10:00；地点：3楼会议室")
    assert flow.notifications() == [(person, "info", message) for person in NOTICE["meeting_attendees"]]
    assert flow.open_tasks() == []  # waiting for the meeting

    flow.advance_to(beijing("2026-11-05 09:59"), days=1)
    assert flow.open_tasks() == []
    flow.advance(minutes=1)
    assert flow.timers_fired() == ["meeting_starts"]
    minutes = flow.task("record_minutes")
    assert (minutes["assignee"], minutes["due_at"]) == (LEAD, beijing("2026-11-06 10:00"))

    flow.complete("record_minutes", {"meeting_minutes": "三方确认分工",
                                     "meeting_conclusions": "产品部10日前交付功能说明"})
    assert flow.task("write_plan")["assignee"] == LEAD
    # the lead writes the plan beside the meeting's records; the minutes are not task data
    assert not {"meeting_minutes", "meeting_conclusions"} & set(flow.form("write_plan"))
    (meeting,) = flow.records("meeting", as_user=LEAD)
    (minutes,) = flow.records("minutes", as_user=LEAD)
    assert (meeting["agenda"], meeting["attendees"]) == (NOTICE["meeting_agenda"], NOTICE["meeting_attendees"])
    assert (minutes["content"], minutes["conclusions"]) == ("三方确认分工", "产品部10日前交付功能说明")
    assert minutes["meeting_id"] == meeting["id"]
    assert flow.notifications() == []


def test_a_meeting_without_a_time_goes_back_to_the_lead(flow):
    to_organise(flow)
    flow.notifications()
    flow.complete("organise_coordination", {"coordination_mode": "召开协调会"})
    assert flow.open_elements() == ["organise_coordination"]
    assert flow.notifications() == [
        (LEAD, "reminder", "召开协调会须填写会议时间，请重新确定协调方式（需求 XMBG-202611001）")]


def test_a_meeting_less_than_24_hours_ahead_must_be_rescheduled(flow):
    to_organise(flow)  # Monday 09:00
    flow.notifications()
    flow.complete("organise_coordination", {"coordination_mode": "召开协调会", "meeting_time": "2026-11-02T21:00"})
    assert flow.open_elements() == ["organise_coordination"]
    assert flow.timers_fired() == ["notice_deadline_timer"]
    assert flow.notifications() == [(LEAD, "reminder", RESCHEDULE)]

    flow.complete("organise_coordination", MEETING)  # far enough ahead now
    assert flow.open_elements() == ["send_meeting_notice"]


def test_a_notice_not_sent_24_hours_ahead_cancels_the_meeting(flow):
    to_organise(flow)
    flow.complete("organise_coordination", MEETING)
    flow.notifications()

    flow.advance_to(beijing("2026-11-04 09:59"), days=1)
    assert flow.open_elements() == ["send_meeting_notice"]
    flow.advance(minutes=1)
    assert flow.open_elements() == ["organise_coordination"]
    assert flow.notifications() == [(LEAD, "reminder", RESCHEDULE)]
    assert [e["element_id"] for e in flow.history("task_cancelled")] == ["send_meeting_notice"]
    assert flow.timers_fired() == ["notice_deadline_timer"]


def test_without_a_meeting_the_lead_writes_the_plan_within_24_hours(flow):
    to_plan(flow)
    assert flow.open_elements() == ["write_plan"]
    plan_task = flow.task("write_plan")
    assert (plan_task["assignee"], plan_task["due_at"]) == (LEAD, flow.clock.now + timedelta(hours=24))
    assert sorted(flow.form("write_plan")["dept_feedbacks"]) == sorted(INVOLVED)  # who answered; what: records
    assert sorted(f["department_id"] for f in flow.records("feedback", as_user=LEAD)) == sorted(INVOLVED)
    flow.notifications()

    flow.advance(hours=24)
    assert flow.notifications() == [
        (LEAD, "urge", "请在会后24小时内提交协调方案（需求 XMBG-202611001）"),
        (PMO_OWNER, "escalation", "需求 XMBG-202611001 的协调方案超过24小时未提交"),
    ]
    flow.complete("write_plan", {"plan_tasks": PLAN, "risk_plan": RISK_PLAN})
    # every involved department but the lead approves
    assert flow.assignees("approve_plan") == sorted([HEADS["PRD"], HEADS["SAL"]])
    for head in (HEADS["PRD"], HEADS["SAL"]):
        approval = flow.task("approve_plan", assignee=head)
        assert approval["due_at"] == flow.clock.now + timedelta(hours=48)
        assert flow.form("approve_plan", assignee=head)["plan_tasks"] == PLAN  # the execution runs over it
    (plan,) = flow.records("plan", as_user=HEADS["PRD"])  # the approvers read the whole plan there
    assert (plan["version"], plan["risk_plan"], plan["lead_department"]) == (1, RISK_PLAN, "MKT")
    assert [(t["task_key"], t["title"], t["owner"]) for t in plan["tasks"]] == [
        ("T1", "物料设计", "songyu"), ("T2", "功能说明", "qianyun")]
