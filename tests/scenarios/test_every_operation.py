"""One request that uses every approval operation, then the audit replay over it (the scenario
fixture re-executes every instance from its record and verifies every chain): a step's hidden field,
批量审批, claim, 转办, 抄送, 催办, a timeout that approves by itself, 或签 closing the heads' vote
early, and a step passed by its approver rule."""

from __future__ import annotations

from engine.audit.replay import replay_check
from engine.tasks.batch import approve_batch
from engine.tasks.operations import cc_task, transfer_task, urge_task
from engine.tasks.timeouts import run_due_timeouts
from engine.workflow.instances import claim_task, task_form
from tests.scenarios import steps
from tests.scenarios.test_approver_rules import _deploy, _variant


def test_a_request_through_every_operation_replays_to_the_state_stored(flow, org):
    _deploy(org, _variant(
        {"autoPassSameApprover": "true"},
        admin_review={"hiddenFields": "contact"},
        lead_confirm={"batchDecision": "lead_decision=确认接收", "timeoutAction": "approve", "timeoutAfter": "1"},
        approve_plan={"voteRule": "any", "voteAgree": "approval_decision=同意"}))
    head = steps.HEADS["MKT"]
    flow.submit(head, steps.REQUEST)  # 张总监 files: his own sign-off passes by the process's rule
    assert [e["element_id"] for e in flow.history("task_auto_passed")] == ["dept_head_signoff"]

    review = flow.task("admin_review")
    urge_task(org, review["task_id"], head, "请尽快审核")
    claim_task(org, review["task_id"], "lijingli")
    cc_task(org, review["task_id"], "lijingli", ["songyu"], "供参考")
    transfer_task(org, review["task_id"], "lijingli", "xiaozhou", "请周晓审核")
    assert "contact" not in task_form(org, review["task_id"], "xiaozhou")["data"]  # hidden at this step
    flow.complete("admin_review", {"review_decision": "通过", "review_comment": "信息完整，可行"}, as_user="xiaozhou")
    flow.complete("dispatch_lead", {"lead_dept": "MKT", "pmo_owner": steps.PMO_OWNER, "dispatch_note": "请牵头"},
                  as_user=steps.PMO_OWNER)
    flow.clock.advance(days=1)  # the lead's confirmation times out after one working day: approved by the rule
    assert run_due_timeouts(org) == [t["task_id"] for t in flow.history("task_ready")
                                     if t["element_id"] == "lead_confirm"]
    steps.give_feedback(flow)
    flow.complete("organise_coordination", {"coordination_mode": "在线讨论（不开会）"})
    steps.write_plan(flow)
    approval = flow.task("approve_plan", steps.HEADS["PRD"])["task_id"]
    assert [r["ok"] for r in approve_batch(org, steps.HEADS["PRD"], [approval], "同意方案")] == [True]
    assert "execute_task" in flow.open_elements()  # 或签: one decided, the other's task was withdrawn
    kinds = {e["type"] for e in flow.history()}
    assert {"task_auto_passed", "task_urged", "task_copied", "task_claimed", "task_transferred", "task_completed",
            "task_cancelled"} <= kinds
    assert [e["actor"] for e in flow.history("task_completed") if e["element_id"] == "lead_confirm"] == ["system"]
    assert replay_check(org)["mismatches"] == []  # and again by the fixture, with the chains verified
