"""The replay check on the collaboration process: a request that went through a plan disagreement,
the conflict subprocess and a timer replays to its stored state; an altered stored state or an
altered input is reported where it diverges; the audit replay shows the request step by step.

(Every other scenario is replayed by the `flow` fixture when it ends: see conftest.py.)"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from engine.audit.history_replay import replay
from engine.audit.replay import replay_check
from tests.scenarios.steps import AGREE, CONFIRM, HEADS, PMO_OWNER, to_confirmation, to_plan, write_plan

LEAD, PRD, SAL = HEADS["MKT"], HEADS["PRD"], HEADS["SAL"]
ACTIONS = [{"action": "技术部抽调2人支援", "owner": "yangfan", "deadline": "2026-11-15"}]


@pytest.fixture
def disputed(flow):
    """A request whose plan SAL disagreed with, settled in the conflict subprocess, then approved;
    on the way an approval was left for 48 hours, so the urge timer fired."""
    to_plan(flow)
    write_plan(flow)
    flow.complete_each("approve_plan", {PRD: {"approval_decision": "需修改", "approval_comment": "补充验收口径"},
                                        SAL: {"approval_decision": "不同意", "approval_comment": "销售部11月人手不足"}})
    to_confirmation(flow, ["MKT", "SAL"])
    flow.complete_each("confirm_solution", {LEAD: CONFIRM, SAL: CONFIRM})
    flow.complete("record_action_items", {"action_items": ACTIONS}, as_user=PMO_OWNER)
    write_plan(flow)
    flow.complete("approve_plan", AGREE, assignee=SAL)
    flow.advance(hours=48)
    assert "urge_approvals" in flow.reached()
    flow.complete("approve_plan", AGREE, assignee=PRD)
    assert flow.assignees("execute_task") == ["qianyun", "songyu"]
    return flow


@pytest.fixture
def altered(disputed):
    """The disputed request, put back as it was after the test altered it (the `flow` fixture then
    verifies and replays it again)."""
    ctx, iid = disputed.ctx, disputed.instance_id
    tasks = _sql(ctx, "SELECT seq, task_id, workflow_id, state, body FROM instance_task WHERE instance_id = :i", i=iid)
    (row,) = _sql(ctx, "SELECT status, meta FROM process_instance WHERE id = :i", i=iid)
    events = _sql(ctx, "SELECT seq, data FROM audit_event WHERE instance_id = :i", i=iid)
    yield disputed
    _sql(ctx, "DELETE FROM instance_task WHERE instance_id = :i", i=iid)
    for t in tasks:
        _sql(ctx, "INSERT INTO instance_task (instance_id, seq, task_id, workflow_id, state, body) "
                  "VALUES (:i, :s, :t, :w, :st, :b)", i=iid, s=t.seq, t=t.task_id, w=t.workflow_id, st=t.state,
             b=t.body)
    _sql(ctx, "UPDATE process_instance SET status = :s, meta = :m WHERE id = :i", s=row.status, m=row.meta, i=iid)
    for e in events:
        _sql(ctx, "UPDATE audit_event SET data = :d WHERE instance_id = :i AND seq = :s", d=e.data, i=iid, s=e.seq)
    assert replay_check(ctx)["mismatches"] == []


def _sql(ctx, sql: str, **params) -> list:
    with ctx.db.engine.begin() as conn:
        result = conn.execute(text(sql), params)
        return result.fetchall() if result.returns_rows else []


def _alter_task_data(ctx, instance_id: str, element: str, key: str, value) -> str:
    """Change one value in the stored data of the (last stored) task of `element`; its task id."""
    rows = _sql(ctx, "SELECT seq, task_id, body FROM instance_task WHERE instance_id = :i ORDER BY seq",
                i=instance_id)
    seq, task_id, body = [r for r in rows if json.loads(r.body)["task_spec"] == element][-1]
    task = json.loads(body)
    assert key in task["data"]
    task["data"][key] = value
    _sql(ctx, "UPDATE instance_task SET body = :b WHERE instance_id = :i AND seq = :s",
         b=json.dumps(task, ensure_ascii=False), i=instance_id, s=seq)
    return task_id


def test_a_disputed_request_replays_to_its_stored_state(disputed):
    report = replay_check(disputed.ctx)
    assert report == {"instances": 1, "matched": 1, "mismatches": []}
    assert replay_check(disputed.ctx, [disputed.instance_id])["matched"] == 1


def test_an_altered_task_in_the_stored_state_is_reported_with_its_element_and_key(altered):
    disputed = altered
    iid = disputed.instance_id
    task_id = _alter_task_data(disputed.ctx, iid, "summarise_approvals", "approval_summary", "全部同意")
    (mismatch,) = replay_check(disputed.ctx)["mismatches"]
    assert mismatch["instance_id"] == iid and mismatch["business_key"] == "XMBG-202611001"
    where = f"task {task_id} (summarise_approvals) data.approval_summary"
    assert [p["where"] for p in mismatch["problems"]] == [where]
    assert "stored '全部同意', replayed" in mismatch["problems"][0]["detail"]
    _sql(disputed.ctx, "UPDATE instance_task SET body = :b WHERE instance_id = :i AND task_id = :t", b="{}",
         i=iid, t=task_id)  # the whole task emptied: its state and every other field differ
    problems = replay_check(disputed.ctx)["mismatches"][0]["problems"]
    assert any(p["where"] == f"task {task_id} (summarise_approvals)" and "stored -" in p["detail"] for p in problems)


def test_an_altered_status_or_workflow_data_is_reported(altered):
    disputed = altered
    ctx, iid = disputed.ctx, disputed.instance_id
    _sql(ctx, "UPDATE process_instance SET status = 'completed' WHERE id = :i", i=iid)
    (mismatch,) = replay_check(ctx)["mismatches"]
    assert mismatch["problems"] == [{"where": "status", "detail": "stored completed, replayed running"}]
    _sql(ctx, "UPDATE process_instance SET status = 'running' WHERE id = :i", i=iid)
    (meta,) = _sql(ctx, "SELECT meta FROM process_instance WHERE id = :i", i=iid)
    changed = json.loads(meta.meta)
    changed["data"]["lead_dept"] = "SAL"
    _sql(ctx, "UPDATE process_instance SET meta = :m WHERE id = :i", m=json.dumps(changed), i=iid)
    problems = replay_check(ctx)["mismatches"][0]["problems"]
    # A running instance's data lives in its tasks until the end: the workflow's own data has no lead_dept.
    assert problems == [{"where": "the instance data.lead_dept", "detail": "stored 'SAL', not in the replay"}]


def test_a_deleted_task_row_is_reported(altered):
    disputed = altered
    ctx, iid = disputed.ctx, disputed.instance_id
    (row,) = _sql(ctx, "SELECT seq, task_id FROM instance_task WHERE instance_id = :i AND body LIKE :e",
                  i=iid, e='%"task_spec":"record_action_items"%')
    _sql(ctx, "DELETE FROM instance_task WHERE instance_id = :i AND seq = :s", i=iid, s=row.seq)
    problems = replay_check(ctx)["mismatches"][0]["problems"]
    assert {"where": f"task {row.task_id} (record_action_items)", "detail": "replayed (COMPLETED), but not stored"} \
        in problems


def test_an_altered_input_in_the_record_makes_the_replay_diverge_where_it_was_given(altered):
    disputed = altered
    ctx, iid = disputed.ctx, disputed.instance_id
    (event,) = _sql(ctx, "SELECT seq, data FROM audit_event WHERE instance_id = :i AND event_type = 'task_completed' "
                         "AND element_id = 'approve_plan' AND actor = :a ORDER BY seq LIMIT 1", i=iid, a=SAL)
    data = json.loads(event.data)
    data["data"]["approval_decision"] = "同意"  # as if SAL had agreed the first time
    _sql(ctx, "UPDATE audit_event SET data = :d WHERE instance_id = :i AND seq = :s", d=json.dumps(data), i=iid,
         s=event.seq)
    first, second = replay_check(ctx)["mismatches"][0]["problems"][:2]
    # Without the disagreement nothing goes to coordination: the plan goes back to be revised.
    assert first["where"] == f"event {event.seq + 1}"
    assert first["detail"].startswith("the record has task_ready of classify_conflict (task ")
    assert ", the replay writes task_ready of write_plan (task " in first["detail"]
    assert second["where"] == f"event {event.seq + 2}"
    assert "(classify_conflict) completed by lijingli is not ready in the replay (no such task)" in second["detail"]


def test_the_replay_shows_each_step_with_path_active_tasks_data_and_actor(disputed):
    ctx, iid = disputed.ctx, disputed.instance_id
    shown = replay(ctx, iid)
    steps = shown["steps"]
    history = disputed.history()
    commands = [e for e in history if e["type"] in ("instance_started", "task_completed")]
    sweeps = [e for e in history if e["type"] == "timer_fired"]
    assert len([s for s in steps if s["type"] in ("instance_started", "task_completed", "timer_fired")]) == \
        len(commands) + len(sweeps)
    assert [s["n"] for s in steps] == list(range(len(steps)))
    first = steps[0]
    assert (first["type"], first["actor"]) == ("instance_started", "xiaowang")
    assert [(t["element_id"], t["assignee"]) for t in first["open"]] == [("dept_head_signoff", "zhangzongjian")]
    assert first["data"]["title"] == "双十一大促跨部门协作"

    # The step where SAL disagreed: the conflict subprocess opened, a scope of its own to drill into.
    disagreed = next(s for s in steps if s["type"] == "task_completed" and s["actor"] == SAL)
    assert {(c["field"], c["after"]) for c in disagreed["inputs"]} >= {
        ("approval_decision", "不同意"), ("approval_comment", "销售部11月人手不足")}
    conflict = [sid for sid, scope in shown["scopes"].items() if scope["process_id"] == "conflict_resolution"]
    assert len(conflict) == 1 and shown["scopes"][conflict[0]]["parent"] == "main"
    assert [t["element_id"] for t in disagreed["open"] if t["scope"] == conflict[0]] == ["classify_conflict"]
    assert "plan_conflict" in disagreed["scopes"]["main"]["active"]
    main_done = disagreed["scopes"]["main"]["completed"]
    assert "write_plan" in main_done and "approve_plan" in main_done
    assert "classify_conflict" not in disagreed["scopes"][conflict[0]]["completed"]

    swept = next(s for s in steps if s["type"] == "timer_fired")
    assert swept["actor"] == "system" and swept["element_id"] == "approval_timer"
    last = steps[-1]
    assert sorted(t["element_id"] for t in last["open"]) == ["execute_task"] * 2
    assert "conflict_settled" in last["scopes"][conflict[0]]["completed"]
    assert replay_check(ctx, [iid])["mismatches"] == []
