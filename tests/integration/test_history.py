"""A request's history and replay (engine.audit.history) against scenario runs of the collaboration
process: after every command the driver records what the instance really was (its open tasks with
their holders, the elements its stored tree has completed, where the request page's diagram says it
is); the replay's state at the step ending with that command's last event must say the same."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from lxml import etree
from openpyxl import load_workbook
from sqlalchemy import text

from engine.audit import history as h
from engine.audit import history_replay
from engine.audit import verify as audit_verify
from engine.audit.verify import verify_all
from engine.db.models import ProcessInstance
from engine.errors import InvalidInput, NotFound
from engine.requests.diagram import diagram
from engine.requests.record_access import VIEWED, note_read, record_view
from engine.tasks.operations import transfer_task, withdraw_request
from engine.workflow.instances import claim_task, describe_instance
from tests.scenarios.driver import MONDAY, ROOT, Flow, set_up_org
from tests.scenarios.steps import (
    ACCEPT,
    ACTIONS,
    AGREE,
    CLASSIFY,
    CONFIRM,
    CONFLICT,
    DISSENT,
    HEADS,
    PLAN,
    PMO_OWNER,
    POSITION,
    REQUEST,
    SUBMIT_WORK,
    beijing,
    give_feedback,
    to_confirmation,
    to_organise,
    to_review,
    write_plan,
)

PRD, SAL = HEADS["PRD"], HEADS["SAL"]
# The shapes of both diagrams (SpiffWorkflow's own Start, End and Root tasks are none of them).
ELEMENTS = {el.get("id") for path in (ROOT / "processes").glob("*.bpmn")
            for el in etree.parse(str(path)).iter("{http://www.omg.org/spec/BPMN/20100524/MODEL}*") if el.get("id")}


class RecordingFlow(Flow):
    """The scenario driver, noting the instance's real state after every command."""

    def __init__(self, ctx, clock):
        super().__init__(ctx, clock)
        self.snapshots: list[dict] = []

    def note(self) -> None:
        detail = self.describe()
        self.snapshots.append({
            "seq": detail["history"][-1]["seq"],
            "open": sorted((t["task_id"], t["element_id"], t["assignee"]) for t in detail["open_tasks"]),
            # a multi-instance task's instances are "<element> [child]" tasks
            "reached": {name.removesuffix(" [child]") for name in self.reached()},
            "active": set(diagram(self.ctx, self.instance_id)["active"])})

    def submit(self, *args, **kwargs):
        found = super().submit(*args, **kwargs)
        self.note()
        return found

    def complete(self, *args, **kwargs):
        found = super().complete(*args, **kwargs)
        self.note()
        return found

    def advance(self, **delta):
        fired = super().advance(**delta)
        self.note()
        return fired


@pytest.fixture
def flow(ctx, clock):
    clock.now = MONDAY
    yield RecordingFlow(set_up_org(ctx), clock)
    assert verify_all(ctx)["problems"] == []


def assert_replay_matches(flow: RecordingFlow) -> list[dict]:
    """Every recorded moment against the replay's state at the step ending with its last event."""
    states = history_replay.replay_states(flow.ctx, flow.instance_id)
    assert [s["n"] for s in states] == list(range(len(states)))
    by_seq = {s["seq"]: s for s in states}
    for moment in flow.snapshots:
        state = by_seq[moment["seq"]]
        where = f"step {state['n']} ({state['type']} {state['element_id']}, seq {moment['seq']})"
        assert sorted((t["task_id"], t["element_id"], t["assignee"]) for t in state["open"]) == moment["open"], where
        done = {e for scope in state["scopes"].values() for e, count in scope["completed"].items() if count}
        assert done == moment["reached"] & ELEMENTS, where
        assert set(state["scopes"]["main"]["active"]) == moment["active"], where
    return states


def _summary(states: list[dict], scope: str = "main") -> list[tuple]:
    return [(s["type"], s["element_id"]) for s in states if s["scope"] == scope]


# ------------------------------------------------------------------------------------------ replay

def test_a_return_the_conflict_subprocess_and_parallel_approvals_replay_step_by_step(flow):
    to_review(flow)
    flow.complete("admin_review", {"review_decision": "退回补充", "review_comment": "目标不可衡量"})
    goal = "11月11日销售额同比增长30%"
    flow.complete("revise_request", {**REQUEST, "goal": goal})
    flow.complete("dept_head_signoff", {"signoff_decision": "同意", "signoff_comment": "已补充"})
    flow.complete("admin_review", {"review_decision": "通过", "review_comment": "信息完整"})
    flow.complete("dispatch_lead", {"lead_dept": "MKT", "pmo_owner": PMO_OWNER, "dispatch_note": "请牵头"},
                  as_user=PMO_OWNER)
    flow.complete("lead_confirm", {"lead_decision": "确认接收"})
    give_feedback(flow)
    flow.complete("organise_coordination", {"coordination_mode": "在线讨论（不开会）"})
    write_plan(flow)
    dissent = {"approval_decision": "不同意", "approval_comment": "人手不足"}
    flow.complete_each("approve_plan", {PRD: AGREE, SAL: dissent})
    to_confirmation(flow, ["MKT", "SAL"])
    flow.complete_each("confirm_solution", {HEADS["MKT"]: CONFIRM, SAL: CONFIRM})
    flow.complete("record_action_items", {"action_items": ACTIONS}, as_user=PMO_OWNER)
    write_plan(flow)
    flow.complete_each("approve_plan", {PRD: AGREE, SAL: AGREE})
    for task in PLAN:
        flow.complete("execute_task", SUBMIT_WORK, assignee=task["owner"])
        flow.complete("accept_deliverable", ACCEPT)
    flow.complete("archive_request", {"archive_complete": True, "archive_note": "已归档"}, as_user=PMO_OWNER)
    flow.complete("rate_satisfaction", {"satisfaction": 5})
    flow.complete("retrospective", {"retro_participants": ["MKT", "PRD", "SAL"], "retro_goal": "增长30%",
                                    "retro_result": "增长35%", "retro_highlights": "分工清楚", "retro_problems": "无",
                                    "retro_improvements": "提前准备数据"})
    flow.complete("distill_lessons", {"lesson_title": "提前准备数据", "lesson_body": "预留时间", "lesson_tags": "大促"})
    assert flow.status == "completed"

    states = assert_replay_matches(flow)
    first, last = states[0], states[-1]
    assert (first["type"], first["actor"], first["actor_name"]) == ("instance_started", "xiaowang", "小王")
    assert first["scopes"]["main"]["completed"] == {"request_submitted": 1, "register_request": 1, "signoff_merge": 1}
    assert [t["element_id"] for t in first["open"]] == ["dept_head_signoff"]
    # the loop: the request went through sign-off and review twice, the return's path was taken once
    main = last["scopes"]["main"]
    assert (main["completed"]["dept_head_signoff"], main["completed"]["admin_review"]) == (2, 2)
    assert main["completed"]["revise_request"] == 1 and main["completed"]["request_closed"] == 1
    assert main["active"] == [] and last["open"] == []
    returned = next(s for s in states if s["element_id"] == "revise_request")
    assert {"goal": (REQUEST["goal"], goal)} == {c["field"]: (c["before"], c["after"])
                                                   for c in returned["inputs"] if c["changed"]}
    assert returned["data"]["goal"] == goal and returned["data"]["review_comment"] == "目标不可衡量"
    # parallel approvals: both open at once, one step each
    approving = next(s for s in states if s["type"] == "task_completed" and s["element_id"] == "write_plan")
    assert sorted(t["assignee"] for t in approving["open"]) == sorted([PRD, SAL])
    assert approving["scopes"]["main"]["active"] == ["approve_plan"]
    # the conflict subprocess: a scope of its own, run once from plan_conflict, its steps inside it
    (sub,) = [sid for sid in last["scopes"] if sid != "main"]
    scope = history_replay.replay(flow.ctx, flow.instance_id)["scopes"][sub]
    assert (scope["process_id"], scope["element_id"], scope["run"], scope["parent"]) == (
        CONFLICT, "plan_conflict", 1, "main")
    inside = _summary(states, sub)
    assert inside[0] == ("task_completed", "classify_conflict") and ("task_completed", "record_action_items") in inside
    during = next(s for s in states if s["element_id"] == "propose_solution")
    assert during["scopes"]["main"]["active"] == ["plan_conflict"]
    assert "summarise_positions" in during["scopes"][sub]["completed"]
    assert during["scopes"][sub]["active"] == ["confirm_solution"]
    assert last["scopes"][sub]["completed"]["conflict_settled"] == 1
    # flows: the return path and the way into the subprocess were taken, the rejection never
    before_return = next(s for s in states if s["element_id"] == "revise_request")["scopes"]["main"]["flows"]
    assert len(main["flows"]) > len(before_return)
    assert not {"request_rejected", "notify_rejected"} & set(main["completed"])


def test_timers_a_meeting_and_a_cancelled_task_replay_as_they_happened(flow):
    to_organise(flow)
    # a meeting less than 24 hours ahead: the notice's deadline fires within the same command
    flow.complete("organise_coordination", {"coordination_mode": "召开协调会", "meeting_time": "2026-11-02T21:00"})
    flow.complete("organise_coordination", {"coordination_mode": "召开协调会", "meeting_time": "2026-11-05T10:00"})
    flow.advance(hours=2)
    flow.complete("send_meeting_notice", {"meeting_agenda": "分工", "meeting_place": "3楼会议室",
                                          "meeting_attendees": ["chenzongjian", "huangjingli"]})
    flow.advance_to(beijing("2026-11-05 10:00"), days=1)
    flow.complete("record_minutes", {"meeting_minutes": "确认分工", "meeting_conclusions": "按期交付"})
    write_plan(flow)
    flow.complete("approve_plan", AGREE, assignee=SAL)
    flow.advance(hours=48)  # the missing approval is urged
    assert "approval_timer" in flow.timers_fired()

    states = assert_replay_matches(flow)
    timers = [s for s in states if s["type"] == "timer_fired"]
    assert [s["element_id"] for s in timers] == ["notice_deadline_timer", "meeting_starts", "approval_timer"]
    waiting = next(s for s in states if s["element_id"] == "send_meeting_notice" and s["type"] == "task_completed")
    assert waiting["open"] == [] and waiting["scopes"]["main"]["active"] == ["meeting_starts"]
    assert timers[1]["scopes"]["main"]["completed"]["meeting_starts"] == 1
    assert states[-1]["scopes"]["main"]["completed"]["urge_approvals"] == 1


def test_a_notice_too_late_cancels_its_task_in_the_replay(flow):
    to_organise(flow)
    flow.complete("organise_coordination", {"coordination_mode": "召开协调会", "meeting_time": "2026-11-05T10:00"})
    flow.advance_to(beijing("2026-11-04 10:00"), days=1)
    assert flow.open_elements() == ["organise_coordination"]
    states = assert_replay_matches(flow)
    fired = states[-1]
    assert (fired["type"], fired["element_id"]) == ("timer_fired", "notice_deadline_timer")
    assert [(e["type"], e["element_id"]) for e in fired["events"]][:1] == [("task_cancelled", "send_meeting_notice")]
    assert [t["element_id"] for t in states[-2]["open"]] == ["send_meeting_notice"]


def test_a_conflict_request_escalated_to_arbitration_and_holders_that_change(flow, ctx):
    flow.submit("xiaoli", {"conflict_topic": "客服投诉响应超时", "conflict_parties": ["SAL", "PRD"],
                           "conflict_expected_date": "2026-11-10", "conflict_description": "技术支持不及时"},
                process_id=CONFLICT)
    classify = flow.task("classify_conflict")
    claim_task(ctx, classify["task_id"], "lijingli")
    flow.note()
    transfer_task(ctx, classify["task_id"], "lijingli", "xiaozhou", "我出差")
    flow.note()
    flow.complete("classify_conflict", CLASSIFY)
    flow.complete_each("state_positions", {HEADS["SAL"]: POSITION, HEADS["PRD"]: POSITION})
    flow.complete("propose_solution", {"conflict_solution": "产品部24小时内响应"})
    flow.complete_each("confirm_solution", {HEADS["SAL"]: CONFIRM, HEADS["PRD"]: DISSENT})
    flow.complete("arbitrate", {"arbitration_decision": "按方案执行", "action_items": ACTIONS})
    assert flow.status == "completed"

    states = assert_replay_matches(flow)
    assert [s["scope"] for s in states] == ["main"] * len(states)  # run on its own: no called scope
    claimed, transferred = states[1], states[2]
    assert (claimed["type"], claimed["open"][0]["assignee"]) == ("task_claimed", "lijingli")
    assert (transferred["type"], transferred["open"][0]["assignee"]) == ("task_transferred", "xiaozhou")
    assert {c["field"]: (c["before"], c["after"]) for c in transferred["inputs"]} == {"assignee": ("lijingli",
                                                                                                   "xiaozhou")}
    assert states[-1]["scopes"]["main"]["completed"]["conflict_arbitrated"] == 1


# ----------------------------------------------------------------------------------------- history

def test_history_lists_every_event_with_names_changes_and_notifications(flow, ctx):
    to_review(flow)
    flow.complete("admin_review", {"review_decision": "退回补充", "review_comment": "目标不可衡量"})
    flow.complete("revise_request", {**REQUEST, "goal": "销售额同比增长30%"})
    rows = h.history(ctx, flow.instance_id)
    chained = [r for r in rows if r["seq"] is not None]
    assert [r["seq"] for r in chained] == list(range(1, len(chained) + 1))
    assert [r["type"] for r in chained] == [e["type"] for e in describe_instance(ctx, flow.instance_id)["history"]]
    signed = next(r for r in rows if r["type"] == "task_completed")
    assert (signed["category"], signed["actor_name"]) == ("user", "张总监")
    assert signed["element_name"] == "发起部门负责人签批"
    assert signed["at"] == MONDAY
    revised = next(r for r in rows if r["element_id"] == "revise_request" and r["type"] == "task_completed")
    changed = [c for c in revised["changes"] if c["changed"]]
    assert [(c["field"], c["before"], c["after"]) for c in changed] == [("goal", REQUEST["goal"], "销售额同比增长30%")]
    assert changed[0]["label"].startswith("需求目标（")  # the field's label on the task's form
    depts = next(c for c in revised["changes"] if c["field"] == "involved_depts")
    assert depts["after_text"] == "市场部、产品部、销售部"  # names for the ids
    ready = next(r for r in rows if r["type"] == "task_ready")
    assert (ready["category"], ready["actor"], ready["actor_name"]) == ("engine", "system", None)
    notes = [r for r in rows if r["category"] == "notification"]
    assert notes and all(r["seq"] is None and r["data"]["message"] for r in notes)


def test_history_filters_by_type_actor_and_time(flow, ctx):
    to_review(flow)
    flow.clock.advance(hours=3)
    flow.complete("admin_review", {"review_decision": "通过", "review_comment": "好"})
    every = h.history(ctx, flow.instance_id)
    only = lambda **f: h.history(ctx, flow.instance_id, h.HistoryFilter(**f))  # noqa: E731
    assert {r["category"] for r in only(type="user")} == {"user"}
    assert [r["type"] for r in only(type="task_ready")] == ["task_ready"] * 3
    assert all(any(c["changed"] for c in r["changes"]) for r in only(type="data")) and only(type="data")
    assert {r["actor"] for r in only(actor="zhangzongjian")} == {"zhangzongjian"}
    later = only(since=MONDAY + timedelta(hours=1))
    assert later and all(r["at"] >= MONDAY + timedelta(hours=1) for r in later)
    assert len(only(until=MONDAY)) + len(later) == len(every)
    with pytest.raises(InvalidInput):
        only(since=MONDAY.replace(tzinfo=None))
    with pytest.raises(NotFound):
        h.history(ctx, "no-such-instance")


def test_exports_hold_the_filtered_history_in_csv_excel_and_json(flow, ctx):
    to_review(flow)
    flow.complete("admin_review", {"review_decision": "退回补充", "review_comment": "=HYPERLINK(\"http://x\")"})
    f = h.HistoryFilter(type="user")
    rows = h.history(ctx, flow.instance_id, f)
    labels = {"columns": {"seq": "序号", "at": "时间"}, "types": {"user": "用户操作"}, "sheet": "审计历史"}
    name, body, mime = h.export_history(ctx, flow.instance_id, f, "csv", "Asia/Shanghai", labels)
    assert (name, mime) == ("XMBG-202611001-history.csv", "text/csv; charset=utf-8")
    table = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert table[0][:3] == ["序号", "时间", "category"]
    assert [line[0] for line in table[1:]] == [str(r["seq"]) for r in rows]
    assert table[1][1] == "2026-11-02 09:00:00" and table[1][2] == "用户操作"  # Beijing time
    assert "审核意见（" in table[-1][9] and "— → =HYPERLINK" in table[-1][9]  # label: before → after

    _, body, _ = h.export_history(ctx, flow.instance_id, f, "xlsx", "Asia/Shanghai", labels)
    sheet = load_workbook(io.BytesIO(body)).active
    assert sheet.title == "审计历史" and sheet.max_row == len(rows) + 1
    assert [c.value for c in sheet[2]][:2] == [1, "2026-11-02 09:00:00"]

    _, body, mime = h.export_history(ctx, flow.instance_id, None, "json", "UTC")
    found = json.loads(body)
    assert mime == "application/json" and found["request_no"] == "XMBG-202611001"
    assert len(found["events"]) == len(h.history(ctx, flow.instance_id))
    with pytest.raises(InvalidInput):
        h.export_history(ctx, flow.instance_id, None, "pdf", "UTC")


# ----------------------------------------------------------------------------- views, verification

def test_a_logged_view_joins_the_chain_without_touching_the_workflow(flow, ctx):
    to_review(flow)
    before = describe_instance(ctx, flow.instance_id)
    with ctx.db.read() as s:
        version = s.get(ProcessInstance, flow.instance_id).lock_version
    note_read(ctx, flow.instance_id, "zhangzongjian", "history")  # a head's read is not logged
    assert describe_instance(ctx, flow.instance_id)["history"] == before["history"]
    note_read(ctx, flow.instance_id, "shenjie", "history")  # an auditor's is
    after = describe_instance(ctx, flow.instance_id)
    assert after["history"][-1]["type"] == VIEWED and after["history"][-1]["actor"] == "shenjie"
    assert after["history"][-1]["data"] == {"view": "history"}
    assert after["open_tasks"] == before["open_tasks"]
    with ctx.db.read() as s:
        assert s.get(ProcessInstance, flow.instance_id).lock_version == version
    state = h.verification(ctx, flow.instance_id)
    assert (state["verified"], state["problems"], state["events"]) == (True, [], after["history"][-1]["seq"])
    # the replay leaves views out; the history shows them
    assert all(s["type"] != VIEWED for s in history_replay.replay_states(ctx, flow.instance_id))
    assert [r["category"] for r in h.history(ctx, flow.instance_id, h.HistoryFilter(type="view"))] == ["view"]
    # the next command chains on from the view
    flow.complete("admin_review", {"review_decision": "通过", "review_comment": "好"})
    assert verify_all(ctx, flow.instance_id)["problems"] == []


def test_an_auditors_view_is_no_action_on_the_request(flow, ctx):
    flow.submit("xiaowang", REQUEST)
    record_view(ctx, flow.instance_id, "shenjie", "request")
    withdraw_request(ctx, flow.instance_id, "xiaowang", "不需要了")
    assert flow.status == "cancelled"


def test_verification_reports_an_edited_row(flow, ctx):
    to_review(flow)
    with ctx.db.write() as s:
        s.execute(text("UPDATE audit_event SET actor = 'wangzong' WHERE instance_id = :i AND seq = 3"),
                  {"i": flow.instance_id})
    state = h.verification(ctx, flow.instance_id)
    assert state["verified"] is False and [p["kind"] for p in state["problems"]] == ["edited"]
    with ctx.db.write() as s:
        s.execute(text("UPDATE audit_event SET actor = 'zhangzongjian' WHERE instance_id = :i AND seq = 3"),
                  {"i": flow.instance_id})
    with pytest.raises(NotFound):
        h.verification(ctx, "no-such-instance")


def test_the_index_lists_every_request_with_its_verification_state(flow, ctx):
    to_review(flow)
    first = flow.instance_id
    flow.submit("xiaoli", {**REQUEST, "title": "客服培训"})
    page = h.audit_index(ctx, "shenjie")
    # What was recorded: nothing yet, then the nightly verify_and_record's result, then one "verify now".
    assert [(i["instance_id"], i["verification"]) for i in page.items] == [(flow.instance_id, None), (first, None)]
    audit_verify.verify_and_record(ctx)
    page = h.audit_index(ctx, "shenjie")
    assert [(i["instance_id"], i["verification"]["ok"]) for i in page.items] == [(flow.instance_id, True),
                                                                                  (first, True)]
    assert page.items[0]["verification"]["checked_at"] == ctx.now()
    assert h.verify_request(ctx, first)["ok"] is True
    assert [i["title"] for i in h.audit_index(ctx, "shenjie", text="客服").items] == ["客服培训"]
