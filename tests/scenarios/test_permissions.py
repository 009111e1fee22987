"""Who may act: the assignee, a member of the group a task is offered to, or the person who
substitutes the assignee on that day (陈总监 is away 1-7 October 2026, 赵经理 substitutes him)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.errors import PermissionDenied, TaskNotReady
from engine.tasks.inbox import group_tasks, my_tasks
from engine.workflow.instances import claim_task, complete_task, release_task, task_form
from tests.helpers import assert_reload_matches
from tests.scenarios.steps import HEADS, REQUEST, REQUESTER, REQUESTER_HEAD, admins, beijing, to_execution, to_review

SIGN = {"signoff_decision": "同意", "signoff_comment": "同意提交"}
ABSENT, SUBSTITUTE = "chenzongjian", "zhaojingli"  # 产品部's head and his substitute


def test_a_personal_task_is_only_for_its_assignee(flow):
    flow.submit(REQUESTER, REQUEST)
    task = flow.task("dept_head_signoff")
    # the requester, another department's head, an admin, and the auditor may not sign it off
    for stranger in (REQUESTER, HEADS["SAL"], "lijingli", "shenjie"):
        with pytest.raises(PermissionDenied):
            complete_task(flow.ctx, task["task_id"], stranger, SIGN)
        with pytest.raises(PermissionDenied):
            task_form(flow.ctx, task["task_id"], stranger)
        assert flow.inbox(stranger) == {}
    assert flow.completed_by("dept_head_signoff") == []
    flow.complete("dept_head_signoff", SIGN, as_user=REQUESTER_HEAD)
    assert flow.completed_by("dept_head_signoff")[0][0] == REQUESTER_HEAD


def test_plan_task_owners_act_only_on_their_own_task(flow):
    to_execution(flow)
    work = {"work_outcome": "提交成果", "deliverable_summary": "海报3张"}
    theirs = flow.task("execute_task", assignee="songyu")
    for stranger in ("qianyun", "zhangzongjian", "xiaowang"):  # another owner, the superior, the requester
        with pytest.raises(PermissionDenied):
            complete_task(flow.ctx, theirs["task_id"], stranger, work)
    flow.complete("execute_task", work, assignee="songyu")


def test_a_group_task_is_claimed_by_one_member_and_leaves_the_others(flow):
    to_review(flow)
    review = flow.task("admin_review")
    first, second = admins(flow.ctx)
    assert (first, second) == ("lijingli", "xiaozhou")
    for member in (first, second):
        assert [t["task_id"] for t in group_tasks(flow.ctx, member).items] == [review["task_id"]]

    claim_task(flow.ctx, review["task_id"], second)
    assert_reload_matches(flow.ctx, flow.instance_id)
    with pytest.raises(PermissionDenied):  # not a candidate: told nothing about who holds it
        claim_task(flow.ctx, review["task_id"], "songyu")
    assert [t["task_id"] for t in my_tasks(flow.ctx, second).items] == [review["task_id"]]
    assert group_tasks(flow.ctx, first).total == 0 and group_tasks(flow.ctx, second).total == 0
    assert flow.inbox(first) == {}
    with pytest.raises(TaskNotReady):
        claim_task(flow.ctx, review["task_id"], first)
    with pytest.raises(PermissionDenied):
        complete_task(flow.ctx, review["task_id"], first, {"review_decision": "通过", "review_comment": "可行"})
    with pytest.raises(PermissionDenied):
        release_task(flow.ctx, review["task_id"], first)

    release_task(flow.ctx, review["task_id"], second)  # back to the group
    with pytest.raises(PermissionDenied):
        claim_task(flow.ctx, review["task_id"], "songyu")  # not an admin
    assert [t["task_id"] for t in group_tasks(flow.ctx, first).items] == [review["task_id"]]
    claim_task(flow.ctx, review["task_id"], first)
    flow.complete("admin_review", {"review_decision": "通过", "review_comment": "可行"}, as_user=first)
    assert [(e["type"], e["actor"]) for e in flow.history() if e["element_id"] == "admin_review"][1:] == [
        ("task_claimed", second), ("task_released", second), ("task_claimed", first), ("task_completed", first)]


def test_a_substitute_acts_for_the_absent_head_only_while_the_absence_lasts(flow):
    flow.clock.now = datetime(2026, 9, 30, 9, 0, tzinfo=UTC)  # 30 September: 陈总监 is still in
    flow.submit("qianyun", {**REQUEST, "urgency": "普通"})  # 钱云 of 产品部: her head signs off
    task = flow.task("dept_head_signoff")
    assert task["assignee"] == ABSENT
    with pytest.raises(PermissionDenied):
        complete_task(flow.ctx, task["task_id"], SUBSTITUTE, SIGN)
    assert flow.inbox(SUBSTITUTE) == {}

    flow.clock.now = beijing("2026-10-03 10:00")  # during the holiday absence
    assert flow.inbox(SUBSTITUTE) == {task["task_id"]: "dept_head_signoff"}
    assert flow.inbox(ABSENT) == {task["task_id"]: "dept_head_signoff"}  # he still sees his own task
    with pytest.raises(PermissionDenied):
        complete_task(flow.ctx, task["task_id"], "qianyun", SIGN)  # a colleague is no substitute
    flow.complete("dept_head_signoff", SIGN, as_user=SUBSTITUTE)
    (done,) = flow.history("task_completed")
    assert done["actor"] == SUBSTITUTE
    assert done["data"] == {"data": SIGN, "form": True, "on_behalf_of": ABSENT}

    flow.clock.now = beijing("2026-10-08 09:00")  # he is back: the substitution has ended
    flow.submit("qianyun", {**REQUEST, "urgency": "普通"})
    second = flow.task("dept_head_signoff")
    assert flow.inbox(SUBSTITUTE) == {}
    with pytest.raises(PermissionDenied):
        complete_task(flow.ctx, second["task_id"], SUBSTITUTE, SIGN)
    flow.complete("dept_head_signoff", SIGN, as_user=ABSENT)
    assert "on_behalf_of" not in flow.history("task_completed")[0]["data"]


def test_a_task_opened_during_an_absence_is_announced_to_the_substitute_too(flow):
    flow.clock.now = beijing("2026-10-03 10:00")
    flow.submit("qianyun", {**REQUEST, "urgency": "普通"})
    told = flow.notifications(new_tasks=True)
    notice = "新任务：发起部门负责人签批（需求 XMBG-202610001）"
    assert [(who, kind, message) for who, kind, message in told if kind == "task"] == [
        (ABSENT, "task", notice), (SUBSTITUTE, "task", notice)]
