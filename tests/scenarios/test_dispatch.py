"""Step 2 and the start of step 3: dispatch, the lead's 24-hour confirmation, department feedback.

Also acceptance criterion b: a lead head silent for 24 hours is reminded and the admin alerted.
"""

from __future__ import annotations

from datetime import timedelta

from tests.scenarios.steps import HEADS, INTERFACES, PMO_OWNER, give_feedback, to_lead_confirm


def test_the_lead_objects_and_the_admin_dispatches_another_department(flow):
    to_lead_confirm(flow, lead="PRD")
    confirm = flow.task("lead_confirm")
    assert confirm["assignee"] == HEADS["PRD"]
    assert confirm["due_at"] == flow.clock.now + timedelta(hours=24)

    objection = "本需求以营销活动为主，应由市场部牵头，产品部配合提供功能说明"
    flow.complete("lead_confirm", {"lead_decision": "提出异议", "objection": objection})
    assert flow.open_elements() == ["dispatch_lead"]
    assert flow.task("dispatch_lead")["candidate_groups"] == ["platform_admins"]
    assert flow.form("dispatch_lead", as_user=PMO_OWNER)["objection"] == objection

    flow.complete("dispatch_lead", {"lead_dept": "MKT", "pmo_owner": PMO_OWNER}, as_user=PMO_OWNER)
    assert flow.task("lead_confirm")["assignee"] == HEADS["MKT"]
    flow.complete("lead_confirm", {"lead_decision": "确认接收"})
    assert flow.open_elements() == ["collect_feedback"] * 3
    assert [(actor, d["data"]["lead_dept"]) for actor, d in flow.completed_by("dispatch_lead")] == [
        (PMO_OWNER, "PRD"), (PMO_OWNER, "MKT")]

    # the objected dispatch's 24-hour timer went with it: nobody is reminded of the confirmation later
    # (only the departments' feedback, late beyond the 24 h an urgent request allows, is urged)
    flow.notifications()
    flow.advance(hours=25)
    assert {kind for _, kind, _ in flow.notifications()} == {"urge", "escalation"}
    assert flow.timers_fired() == ["feedback_sla_timer"]


def test_a_lead_silent_for_24_hours_is_reminded_and_the_admin_alerted(flow):
    to_lead_confirm(flow, lead="MKT")
    flow.notifications()

    flow.advance(hours=23, minutes=59)
    assert flow.notifications() == []
    flow.advance(minutes=1)
    assert flow.notifications() == [
        (HEADS["MKT"], "reminder",
         "需求 XMBG-202611001（双十一大促跨部门协作）已分派贵部门主责，超过24小时未确认，请确认接收或提交异议说明"),
        (PMO_OWNER, "escalation", "需求 XMBG-202611001 的主责部门超过24小时未确认，请跟进"),
    ]
    assert flow.timers_fired() == ["lead_confirm_timer"]
    assert flow.task("lead_confirm")["assignee"] == HEADS["MKT"]  # the reminder does not take the task away

    flow.advance(days=2)  # reminded once, not every day
    assert flow.notifications() == []
    flow.complete("lead_confirm", {"lead_decision": "确认接收"})
    assert flow.open_elements() == ["collect_feedback"] * 3


def test_every_involved_department_answers_through_its_interface_person(flow):
    to_lead_confirm(flow, lead="MKT")
    flow.complete("lead_confirm", {"lead_decision": "确认接收"})

    assert flow.assignees("collect_feedback") == sorted(INTERFACES.values())
    for dept, person in INTERFACES.items():
        task = flow.task("collect_feedback", assignee=person)
        assert task["due_at"] == flow.clock.now + timedelta(hours=24)  # response_due('紧急')
        assert flow.inbox(person) == {task["task_id"]: "collect_feedback"}
        assert flow.form("collect_feedback", assignee=person)["feedback_dept"] == dept

    flow.complete("collect_feedback", {"feedback_content": "销售部5日前提供客户名单",
                                       "feedback_suggested_date": "2026-11-05"}, assignee=INTERFACES["SAL"])
    assert flow.assignees("collect_feedback") == sorted([INTERFACES["MKT"], INTERFACES["PRD"]])
    give_feedback(flow, ["MKT", "PRD"])

    assert flow.open_elements() == ["organise_coordination"]
    assert flow.task("organise_coordination")["assignee"] == HEADS["MKT"]
    # the lead reads every department's feedback from the records; the task data only says who answered
    shown = flow.form("organise_coordination")
    assert shown["dept_feedbacks"] == ["SAL", "MKT", "PRD"]  # in the order they answered
    assert not {"feedback_content", "feedback_suggested_date"} & set(shown)
    feedbacks = flow.records("feedback", as_user=HEADS["MKT"])
    assert [(f["department_id"], f["author"], f["content"], f["suggested_date"]) for f in feedbacks] == [
        ("SAL", "xiaoli", "销售部5日前提供客户名单", "2026-11-05"),
        ("MKT", "xiaowang", "MKT 可按期配合", "2026-11-10"),
        ("PRD", "zhaojingli", "PRD 可按期配合", "2026-11-10"),
    ]


def test_feedback_late_beyond_the_response_time_is_urged_and_escalated_once(flow):
    to_lead_confirm(flow, lead="MKT")
    flow.complete("lead_confirm", {"lead_decision": "确认接收"})
    flow.advance(hours=5)
    flow.complete("collect_feedback", {"feedback_content": "销售部可按期配合", "feedback_suggested_date": "2026-11-10"},
                  assignee=INTERFACES["SAL"])
    flow.notifications()

    flow.advance(hours=18, minutes=59)  # 23:59 after the tasks opened: an urgent request allows 24 h
    assert flow.notifications() == []
    flow.advance(minutes=1)
    urge = "需求 XMBG-202611001（紧急）的协调反馈已超过响应时限，请尽快填写"
    assert sorted(flow.notifications()) == sorted([
        (INTERFACES["MKT"], "urge", urge), (INTERFACES["PRD"], "urge", urge),  # only those still to answer
        (PMO_OWNER, "escalation", "需求 XMBG-202611001 的部门协调反馈已超过响应时限"),
    ])
    assert flow.timers_fired() == ["feedback_sla_timer"]
    flow.advance(days=2)
    assert flow.notifications() == []
    give_feedback(flow, ["MKT", "PRD"])
    assert flow.open_elements() == ["organise_coordination"]
