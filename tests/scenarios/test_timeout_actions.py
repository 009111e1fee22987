"""超时处理: a step's timeoutAction falls due timeoutAfter working days (the Chinese calendar) after
its task opened, and runs once: approve (the step's batch decision) or reject (its timeoutReject) as
a completion by the system naming the rule, or a transfer to the holder's superior or to a group.
The injectable clock moves time; several sweepers at once still act once; replay re-executes the
completions (the scenario fixture checks every instance)."""

from __future__ import annotations

import threading

import pytest

from engine.background import tick
from engine.errors import InvalidProcess
from engine.tasks.timeouts import apply_timeout, run_due_timeouts
from tests.scenarios import steps
from tests.scenarios.steps import beijing
from tests.scenarios.test_approver_rules import _deploy, _variant

FRIDAY = beijing("2026-11-06 09:00")


def _filed_on_friday(flow, **rules) -> dict:
    _deploy(flow.ctx, _variant(dept_head_signoff=rules))
    flow.clock.now = FRIDAY
    flow.submit(steps.REQUESTER, steps.REQUEST)
    return flow.task("dept_head_signoff")


def test_a_sign_off_left_two_working_days_is_approved_by_the_system_after_the_weekend(flow):
    task = _filed_on_friday(flow, timeoutAction="approve", timeoutAfter="2")
    flow.notifications()
    flow.clock.now = beijing("2026-11-10 08:59")  # Saturday and Sunday do not count
    assert run_due_timeouts(flow.ctx) == [] and flow.open_elements() == ["dept_head_signoff"]
    flow.clock.now = beijing("2026-11-10 09:00")
    assert tick(flow.ctx).timed_out == [task["task_id"]]
    assert flow.open_elements() == ["admin_review"]
    (done,) = flow.history("task_completed")
    assert done["actor"] == "system" and done["data"]["data"] == {"signoff_decision": "同意", "signoff_comment": ""}
    assert done["data"]["timeout"] == {"action": "approve", "after_working_days": 2}
    assert run_due_timeouts(flow.ctx) == []  # once
    told = [n for n in flow.notifications() if n[0] == task["assignee"]]
    assert told[0][1] == "info" and "已超时，按环节规则自动处理为“同意”" in told[0][2]


def test_a_reject_rule_returns_the_request_to_its_requester(flow):
    _filed_on_friday(flow, timeoutAction="reject", timeoutAfter="1", timeoutReject="signoff_decision=退回")
    flow.clock.now = beijing("2026-11-09 09:00")
    run_due_timeouts(flow.ctx)
    assert flow.open_elements() == ["revise_request"]
    assert flow.history("task_completed")[0]["data"]["data"] == {"signoff_decision": "退回", "signoff_comment": ""}


def test_a_transfer_rule_gives_the_task_to_the_holders_superior_once_with_a_notice(flow):
    task = _filed_on_friday(flow, timeoutAction="superior", timeoutAfter="1")
    flow.notifications(new_tasks=True)
    flow.clock.now = beijing("2026-11-09 09:00")
    assert run_due_timeouts(flow.ctx) == [task["task_id"]]
    assert flow.task("dept_head_signoff")["assignee"] == "wangzong"  # 张总监's superior
    (moved,) = flow.history("task_transferred")
    assert moved["actor"] == "system" and moved["data"]["after"] == {"assignee": "wangzong", "delegated_by": None}
    assert [(n[0], n[1]) for n in flow.notifications(new_tasks=True)] == [("wangzong", "task")]
    flow.clock.now = beijing("2026-11-20 09:00")
    assert run_due_timeouts(flow.ctx) == []  # the timeout ran: it does not run again for the new holder
    flow.complete("dept_head_signoff", {"signoff_decision": "同意", "signoff_comment": "王总代签"}, as_user="wangzong")
    assert flow.open_elements() == ["admin_review"]


def test_a_group_rule_offers_the_task_to_the_group(flow):
    _filed_on_friday(flow, timeoutAction="group", timeoutAfter="1", timeoutGroup="platform_admins")
    flow.clock.now = beijing("2026-11-09 09:00")
    run_due_timeouts(flow.ctx)
    task = flow.task("dept_head_signoff")
    assert task["assignee"] is None and task["candidate_groups"] == ["platform_admins"]
    assert "dept_head_signoff" in flow.inbox("lijingli").values()


def test_several_sweepers_at_once_act_once(flow):
    task = _filed_on_friday(flow, timeoutAction="approve", timeoutAfter="1")
    flow.clock.now = beijing("2026-11-09 09:00")
    done, errors = [], []

    def sweep():
        try:
            done.extend(run_due_timeouts(flow.ctx))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    workers = [threading.Thread(target=sweep) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == [] and done == [task["task_id"]]
    assert len(flow.history("task_completed")) == 1
    assert apply_timeout(flow.ctx, flow.task("admin_review")["task_id"], flow.clock.now) is None


@pytest.mark.parametrize(("rules", "words"), [
    ({"timeoutAction": "escalate", "timeoutAfter": "1"}, "timeoutAction is 'escalate'"),
    ({"timeoutAction": "approve", "timeoutAfter": "two"}, "timeoutAfter is 'two'; it is a number of working days"),
    ({"timeoutAction": "reject", "timeoutAfter": "1", "timeoutReject": "signoff_decision=作废"},
     "timeoutReject is 'signoff_decision=作废'"),
    ({"timeoutAction": "group", "timeoutAfter": "1"}, "timeoutAction group needs timeoutGroup"),
])
def test_a_timeout_rule_that_cannot_work_is_refused_at_deploy(org, rules, words):
    with pytest.raises(InvalidProcess) as refused:
        _deploy(org, _variant(dept_head_signoff=rules))
    found = [p for p in refused.value.problems if words in p.message]
    assert found and found[0].element_id == "dept_head_signoff" and found[0].line, \
        [p.message for p in refused.value.problems]
