"""会签 / 或签 by rule on the plan's approval by the involved heads (产品部 and 销售部 here): the step
closes as soon as its outcome is certain, the approvers who had not decided lose their task with a
notice, and the outcome is in vote_result for the gateways; two approvers deciding at the same
moment give one outcome. Replay re-executes it (the scenario fixture checks every instance)."""

from __future__ import annotations

import threading

import pytest

from engine.errors import InvalidProcess, XiezuoError
from engine.workflow.instances import complete_task
from tests.helpers import reloaded_state
from tests.scenarios import steps
from tests.scenarios.test_approver_rules import _deploy, _variant

DISAGREE = {"approval_decision": "不同意", "approval_comment": "人手不足"}


def _outcome(flow) -> set:
    """vote_result as the steps after the vote see it (every task holding it, in the stored state)."""
    state = reloaded_state(flow.ctx, flow.instance_id)
    return {t["data"]["vote_result"] for w in (state, *state["subprocesses"].values())
            for t in w["tasks"].values() if "vote_result" in t["data"]}


def _to_approval(flow, **rule) -> dict[str, str]:
    _deploy(flow.ctx, _variant(approve_plan={"voteAgree": "approval_decision=同意", **rule}))
    steps.to_plan(flow)
    steps.write_plan(flow)
    return {t["assignee"]: t["task_id"] for t in flow.tasks("approve_plan")}


def test_or_sign_closes_on_the_first_decision_and_withdraws_the_other_task_with_a_notice(flow):
    open_tasks = _to_approval(flow, voteRule="any")
    assert sorted(open_tasks) == [steps.HEADS["PRD"], steps.HEADS["SAL"]]
    flow.notifications()
    flow.complete("approve_plan", steps.AGREE, assignee=steps.HEADS["PRD"])
    assert "approve_plan" not in flow.open_elements() and "execute_task" in flow.open_elements()
    (withdrawn,) = flow.history("task_cancelled")
    assert withdrawn["task_id"] == open_tasks[steps.HEADS["SAL"]]
    told = [n for n in flow.notifications() if n[0] == steps.HEADS["SAL"]]
    assert told and "已撤回" in told[0][2] and told[0][1] == "info"
    assert _outcome(flow) == {"passed"}


def test_counter_sign_with_one_refusal_deciding_closes_at_the_first_refusal(flow):
    _to_approval(flow, voteRule="all", voteRejection="first")
    flow.complete("approve_plan", DISAGREE, assignee=steps.HEADS["SAL"])
    assert "approve_plan" not in flow.open_elements()
    assert flow.open_elements() == ["classify_conflict"]  # the refusal goes to coordination, as before
    assert _outcome(flow) == {"failed"}


def test_a_ratio_closes_as_soon_as_reaching_it_is_certain_or_impossible(flow):
    _to_approval(flow, voteRule="ratio", voteRatio="1/2")
    flow.complete("approve_plan", steps.AGREE, assignee=steps.HEADS["SAL"])  # 1 of 2 is enough
    assert "approve_plan" not in flow.open_elements()
    assert _outcome(flow) == {"passed"}


def test_counted_refusals_wait_for_every_approver_and_then_decide(flow):
    _to_approval(flow, voteRule="ratio", voteRatio="1", voteRejection="counted")
    flow.complete("approve_plan", DISAGREE, assignee=steps.HEADS["PRD"])  # counted: 销售部 still decides
    assert flow.assignees("approve_plan") == [steps.HEADS["SAL"]]
    flow.complete("approve_plan", steps.AGREE, assignee=steps.HEADS["SAL"])
    assert "approve_plan" not in flow.open_elements()
    assert _outcome(flow) == {"failed"}  # 1 of 2, where every one had to agree


def test_two_approvers_of_an_or_sign_deciding_at_once_give_one_outcome(flow):
    open_tasks = _to_approval(flow, voteRule="any")
    results, refused = [], []

    def decide(head: str) -> None:
        try:
            results.append(complete_task(flow.ctx, open_tasks[head], head, steps.AGREE))
        except XiezuoError as exc:
            refused.append(exc.code)

    workers = [threading.Thread(target=decide, args=(h,)) for h in open_tasks]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(results) == 1 and len(refused) == 1 and refused[0] in ("task_not_ready", "stale_instance")
    assert len(flow.completed_by("approve_plan")) == 1 and len(flow.history("task_cancelled")) == 1


@pytest.mark.parametrize(("element", "rule", "words"), [
    ("dept_head_signoff", {"voteRule": "any", "voteAgree": "signoff_decision=同意"},
     "voteRule is for a parallel multi-instance task"),
    ("approve_plan", {"voteRule": "ratio", "voteRatio": "3/2", "voteAgree": "approval_decision=同意"},
     "voteRatio is '3/2'; it is a share above 0 and at most 1"),
    ("approve_plan", {"voteRule": "all", "voteAgree": "approval_decision=好"}, "voteAgree is 'approval_decision=好'"),
])
def test_a_vote_rule_that_cannot_work_is_refused_at_deploy(org, element, rule, words):
    with pytest.raises(InvalidProcess) as refused:
        _deploy(org, _variant(**{element: rule}))
    found = [p for p in refused.value.problems if words in p.message]
    assert found and found[0].element_id == element and found[0].line, [p.message for p in refused.value.problems]
