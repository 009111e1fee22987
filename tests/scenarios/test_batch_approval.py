"""批量审批: a head signs off several requests at once with one comment, where the step allows it
(dept_head_signoff and approve_plan carry batchDecision and batchComment). Each task is its own
audited completion, so every request replays (the scenario fixture checks); a task that cannot be done
is reported for itself and the others go on; a step without the setting is refused by name."""

from __future__ import annotations

import pytest

from engine.errors import InvalidInput
from engine.tasks.batch import approve_batch, mark_batchable
from engine.tasks.inbox import my_tasks
from tests.scenarios import steps
from tests.scenarios.driver import Flow


def test_a_head_signs_off_three_requests_in_one_batch_each_its_own_completion(flow, org, clock):
    head = steps.HEADS["MKT"]
    filed = []
    for title in ("海报设计", "渠道投放", "会员活动"):
        each = Flow(org, clock)
        each.submit(steps.REQUESTER, {**steps.REQUEST, "title": title})
        filed.append(each)
    rows = my_tasks(org, head).items
    mark_batchable(org, rows)
    assert [(r["element_id"], r["batch"]) for r in rows] == [("dept_head_signoff", {
        "field": "signoff_decision", "value": "同意", "comment": "signoff_comment"})] * 3
    results = approve_batch(org, head, [r["task_id"] for r in rows], "  同意提交，按计划推进 ")
    assert [(r["ok"], r["task"]) for r in results] == [(True, "发起部门负责人签批")] * 3
    assert sorted(r["request"] for r in results) == sorted(f.describe()["business_key"] for f in filed)
    for each in filed:
        assert each.open_elements() == ["admin_review"]
        (signed,) = each.history("task_completed")
        assert signed["actor"] == head and signed["data"]["data"] == {
            "signoff_decision": "同意", "signoff_comment": "同意提交，按计划推进"}


def test_a_task_that_cannot_be_done_is_reported_alone_and_the_others_go_on(flow, org, clock):
    head = steps.HEADS["MKT"]
    first, second = Flow(org, clock), Flow(org, clock)
    first.submit(steps.REQUESTER, steps.REQUEST)
    second.submit(steps.REQUESTER, {**steps.REQUEST, "title": "第二个需求"})
    mine = first.task("dept_head_signoff")["task_id"], second.task("dept_head_signoff")["task_id"]
    first.complete("dept_head_signoff", {"signoff_decision": "同意", "signoff_comment": "已单独签批"})
    review = first.task("admin_review")["task_id"]  # not the head's, and a step without the setting
    results = approve_batch(org, head, [*mine, review], "批量同意")
    assert [r["ok"] for r in results] == [False, True, False]
    assert results[0]["error"].message_code == "task.not_open"  # done since the list was read
    assert results[2]["error"].code in ("permission_denied", "not_found")
    assert second.open_elements() == ["admin_review"] and first.open_elements() == ["admin_review"]
    admin = first.actor(first.task("admin_review"))
    (refused,) = approve_batch(org, admin, [review], "通过")
    assert refused["error"].message_code == "batch.not_allowed" and refused["task"] == "审核需求完整性与可行性"
    assert first.open_elements() == ["admin_review"]


def test_an_empty_or_oversized_batch_is_refused(org):
    with pytest.raises(InvalidInput) as nothing:
        approve_batch(org, steps.HEADS["MKT"], [], "")
    assert nothing.value.message_code == "batch.nothing"
    with pytest.raises(InvalidInput) as too_many:
        approve_batch(org, steps.HEADS["MKT"], [str(n) for n in range(101)], "")
    assert too_many.value.message_code == "batch.too_many"
