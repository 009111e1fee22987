"""What a step decides on (engine.requests.story): the request as filed and as revised on return,
and the earlier steps each step of the collaboration flow shows above its form."""

from __future__ import annotations

from engine.requests.story import story
from tests.scenarios import steps


def test_a_request_returned_for_supplement_is_shown_as_revised_and_the_reviewer_sees_the_heads_reasons(flow, org):
    flow.submit(steps.REQUESTER, {**steps.REQUEST, "expected_date": steps.today(flow).replace(year=2027).isoformat()})
    flow.complete("dept_head_signoff", {"signoff_decision": "退回", "signoff_comment": "请补充预算表"})
    told = story(org, flow.instance_id)
    assert told.filed["background"] == steps.REQUEST["background"]
    assert [s.element_id for s in told.deciding("revise_request")] == ["dept_head_signoff"]
    returned = told.deciding("revise_request")[0]
    assert returned.actor == steps.REQUESTER_HEAD and returned.values["signoff_comment"] == "请补充预算表"
    assert [f.id for f in returned.given] == ["signoff_decision", "signoff_comment"]

    flow.complete("revise_request", {**steps.REQUEST, "background": "补充：预算20万元",
                                     "expected_date": steps.today(flow).replace(year=2027).isoformat()})
    flow.complete("dept_head_signoff", {"signoff_decision": "同意", "signoff_comment": "预算已补充，同意"})
    told = story(org, flow.instance_id)
    assert told.filed["background"] == "补充：预算20万元"  # the request as revised, not as first filed
    assert told.filed["title"] == steps.REQUEST["title"]
    # the admin reviewing it sees the latest sign-off, with its reason; the earlier return is in the story
    deciding = told.deciding("admin_review")
    assert [(s.element_id, s.values["signoff_comment"]) for s in deciding] == [
        ("dept_head_signoff", "预算已补充，同意")]
    assert [s.element_id for s in told.steps] == ["dept_head_signoff", "revise_request", "dept_head_signoff"]


def test_the_plan_approvers_see_the_plan_and_every_departments_feedback(flow, org):
    steps.to_plan(flow)
    steps.write_plan(flow)
    told = story(org, flow.instance_id)
    deciding = told.deciding("approve_plan")
    feedback = [s for s in deciding if s.element_id == "collect_feedback"]
    assert sorted(s.actor for s in feedback) == sorted(steps.INTERFACES.values())  # one round, every department
    assert all(s.values["feedback_content"].endswith("可按期配合") for s in feedback)
    plan = [s for s in deciding if s.element_id == "write_plan"]
    assert len(plan) == 1 and [t["title"] for t in plan[0].values["plan_tasks"]] == [t["title"] for t in steps.PLAN]
    assert plan[0].values["risk_plan"] == steps.RISK_PLAN
    assert [s.at for s in deciding] == sorted(s.at for s in deciding)  # oldest first


def test_a_step_the_flow_does_not_name_shows_the_latest_step(flow, org):
    steps.to_review(flow)
    told = story(org, flow.instance_id)
    assert [s.element_id for s in told.deciding("some_other_diagrams_task")] == ["dept_head_signoff"]
    assert told.deciding("dept_head_signoff") == []  # the head decides on the request itself
