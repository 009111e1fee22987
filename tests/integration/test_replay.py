"""The replay check through the engine services: errors and retries, timers, cancellations,
call activities, an organisation and a calendar that changed while a request ran; nothing written."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from engine.audit import replay
from engine.audit.history_replay import replay as replay_page
from engine.audit.history_replay import replay_states
from engine.bpmn.deploy import deploy
from engine.errors import InstanceErrored, NotFound
from engine.org.calendar import set_day
from engine.org.directory import set_post
from engine.requests.requests import submit_request
from engine.tasks.inbox import group_tasks, my_tasks
from engine.workflow.instances import (
    cancel_instance,
    claim_task,
    complete_task,
    describe_instance,
    release_task,
    retry_instance,
    start_instance,
)
from engine.workflow.timers import run_due_timers
from tests.conftest import fixture_files
from tests.helpers import add_user, said
from tests.scenarios.driver import MONDAY, set_up_org
from tests.scenarios.steps import REQUEST


@pytest.fixture
def team(ctx):
    deploy(ctx, fixture_files("loop_2task.bpmn", "timer_boundary.bpmn", "script_fail.bpmn", "call_parent.bpmn",
                              "call_child.bpmn"), "owner")
    add_user(ctx, "alice", "team")
    add_user(ctx, "bob", "team", "admins")
    return ctx


def _matched(ctx, *ids: str) -> None:
    report = replay.replay_check(ctx, list(ids) or None)
    assert report["mismatches"] == [], report["mismatches"]
    assert report["matched"] == report["instances"] >= 1


def _counts(ctx) -> dict:
    with ctx.db.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in (
            "process_instance", "instance_task", "audit_event", "inbox_task", "notification")}


def test_an_errored_then_retried_instance_replays(team):
    ctx = team
    with pytest.raises(InstanceErrored):
        start_instance(ctx, "script_fail", "alice", {"mode": "plain", "total": 10, "divisor": 0})
    (iid,) = [r["instance_id"] for r in _instances(ctx)]
    _matched(ctx, iid)  # errored, as stored
    retry_instance(ctx, iid, "alice", {"divisor": 2})
    (task,) = my_tasks(ctx, "alice").items
    complete_task(ctx, task["task_id"], "alice", {})
    assert describe_instance(ctx, iid)["status"] == "completed"
    _matched(ctx, iid)
    steps = replay_states(ctx, iid)
    assert [s["type"] for s in steps] == ["instance_started", "instance_retried", "task_completed"]
    assert [e["type"] for e in steps[0]["events"]] == ["instance_errored"]
    assert [e["type"] for e in steps[-1]["events"]] == ["instance_completed"] and steps[-1]["open"] == []


def _instances(ctx) -> list[dict]:
    with ctx.db.engine.connect() as conn:
        return [{"instance_id": i} for (i,) in conn.execute(text("SELECT id FROM process_instance ORDER BY id"))]


def test_a_timer_fired_by_the_sweep_replays_and_so_does_a_task_done_before_the_sweep_came(team, clock):
    ctx = team
    late = start_instance(ctx, "timer_boundary", "alice", {}).instance_id
    clock.advance(minutes=1)
    in_time = start_instance(ctx, "timer_boundary", "alice", {}).instance_id
    clock.advance(hours=25)
    (confirm,) = [t for t in group_tasks(ctx, "alice").items if t["instance_id"] == in_time]
    complete_task(ctx, confirm["task_id"], "alice", {})  # overdue, but the sweep has not run yet
    assert run_due_timers(ctx, clock.now) == [late]
    (escalation,) = [t for t in group_tasks(ctx, "bob").items if t["element_id"] == "Escalate"]
    complete_task(ctx, escalation["task_id"], "bob", {})
    assert describe_instance(ctx, in_time)["status"] == describe_instance(ctx, late)["status"] == "completed"
    _matched(ctx)
    fired = [s for s in replay_states(ctx, late) if s["type"] == "timer_fired"]
    assert len(fired) == 1 and fired[0]["actor"] == "system" and fired[0]["at"] == clock.now.isoformat()


def test_claims_releases_and_a_cancellation_replay(team):
    ctx = team
    iid = start_instance(ctx, "loop_2task", "alice", {}).instance_id
    task = group_tasks(ctx, "alice").items[0]["task_id"]
    claim_task(ctx, task, "alice")
    release_task(ctx, task, "alice")
    claim_task(ctx, task, "bob")
    complete_task(ctx, task, "bob", {"note": "一"})
    cancel_instance(ctx, iid, "bob", "重复")
    _matched(ctx, iid)
    last = replay_states(ctx, iid)[-1]
    assert (last["type"], last["actor"], last["open"]) == ("instance_cancelled", "bob", [])


def test_a_called_process_replays_and_its_steps_name_the_call(team):
    ctx = team
    iid = start_instance(ctx, "call_parent", "alice", {}).instance_id
    found = replay_page(ctx, iid)
    ready = found["steps"][0]["open"]
    assert ready and all(found["scopes"][t["scope"]]["element_id"] == "CallChild" for t in ready)
    for task in group_tasks(ctx, "alice").items + my_tasks(ctx, "alice").items:
        complete_task(ctx, task["task_id"], "alice", {})
    _matched(ctx, iid)


def test_replaying_writes_nothing_and_notifies_nobody(team, clock):
    ctx = team
    start_instance(ctx, "timer_boundary", "alice", {})
    clock.advance(hours=25)
    run_due_timers(ctx, clock.now)
    before = _counts(ctx)
    _matched(ctx)
    replay_states(ctx, _instances(ctx)[0]["instance_id"])
    assert _counts(ctx) == before


def test_an_unknown_instance_is_named(team):
    with pytest.raises(NotFound) as refused:
        replay.replay_check(team, ["nope"])
    assert (said(refused), str(refused.value)) == (("request.unknown", {"request": "nope"}), "需求 nope 不存在")
    with pytest.raises(NotFound):
        replay_states(team, "nope")


@pytest.fixture
def org(ctx, clock):
    clock.now = MONDAY
    return set_up_org(ctx)


def _complete(ctx, element: str, user: str, data: dict) -> None:
    tasks = [t for t in my_tasks(ctx, user).items + group_tasks(ctx, user).items if t["element_id"] == element]
    complete_task(ctx, tasks[0]["task_id"], user, data)


def test_heads_and_working_days_are_those_of_the_time_each_step_ran(org, clock):
    """市场部's head changes and a working day is ruled a rest day while a request runs: its early
    steps replay with the old head and calendar, its later ones with the new."""
    ctx = org
    iid = submit_request(ctx, "xiaowang", {**REQUEST, "urgency": "普通"}).instance_id
    _complete(ctx, "dept_head_signoff", "zhangzongjian", {"signoff_decision": "同意", "signoff_comment": "同意"})
    review = [t for t in group_tasks(ctx, "lijingli").items if t["element_id"] == "admin_review"][0]
    clock.advance(minutes=5)
    set_post(ctx, "MKT", "head", "songyu", "lijingli")  # 宋雨 heads 市场部 from now on
    set_day(ctx, "2026-11-04", False, "临时停工", "lijingli")  # the review's due date moves a day later
    clock.advance(minutes=5)
    _complete(ctx, "admin_review", "lijingli", {"review_decision": "通过", "review_comment": "可行"})
    _complete(ctx, "dispatch_lead", "xiaozhou", {"lead_dept": "MKT", "pmo_owner": "xiaozhou",
                                                 "dispatch_note": "请牵头"})
    confirm = [t for t in describe_instance(ctx, iid)["open_tasks"] if t["element_id"] == "lead_confirm"]
    assert confirm[0]["assignee"] == "songyu"
    _matched(ctx, iid)  # the signoff was zhangzongjian's and the review's due date the old one, as recorded

    ready = {e["element_id"]: e["data"] for e in describe_instance(ctx, iid)["history"] if e["type"] == "task_ready"}
    assert ready["dept_head_signoff"]["assignee"] == "zhangzongjian"
    assert ready["admin_review"]["due_at"] == review["due_at"]
    with ctx.db.transaction(write=False) as tx:
        history = replay.History(tx)
    assert history.directory(MONDAY).head("MKT") == "zhangzongjian"
    assert history.directory(clock.now).head("MKT") == "songyu"
    assert history.calendar(MONDAY).is_workday(datetime(2026, 11, 4, 2, tzinfo=UTC).date())
    assert not history.calendar(clock.now).is_workday(datetime(2026, 11, 4, 2, tzinfo=UTC).date())
