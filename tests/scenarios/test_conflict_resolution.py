"""The conflict-resolution process run on its own, as a 问题协调 request: consensus, a dissent
escalated to the common superior, and a confirmation deadline that passes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.audit.replay import replay_check
from engine.db.models import AppUser, GroupMembership
from engine.errors import FormInvalid
from engine.org.directory import add_substitute, bump_revision, directory, remove_substitute
from engine.org.history import History
from engine.org.importer import import_org, parse_yaml
from tests.scenarios.steps import ACTIONS, CONFIRM, CONFLICT, DISSENT, HEADS, POSITION, beijing, to_confirmation

RAISER = "xiaoli"  # 小李, 销售部's interface person
PARTIES = ["SAL", "CS", "PRD"]
PARTY_HEADS = sorted(HEADS[d] for d in PARTIES)
ISSUE = {"conflict_topic": "客服投诉响应超时", "conflict_parties": PARTIES, "conflict_expected_date": "2026-11-10",
         "conflict_description": "客服部称产品部未及时提供技术支持，销售部客户投诉增加"}
SOLUTION = "技术支持由产品部24小时内响应，客服部建立升级群"


def _raise_conflict(flow) -> None:
    detail = flow.submit(RAISER, ISSUE, process_id=CONFLICT)
    assert detail["business_key"] == "XMBG-202611001"


def test_a_conflict_request_needs_two_parties(flow):
    with pytest.raises(FormInvalid) as refused:
        flow.submit(RAISER, {**ISSUE, "conflict_parties": ["SAL"]}, process_id=CONFLICT)
    assert list(refused.value.errors) == ["conflict_parties"]


def test_classified_positions_proposal_and_consensus_produce_an_action_table(flow):
    _raise_conflict(flow)
    classify = flow.task("classify_conflict")
    assert classify["candidate_groups"] == ["platform_admins"]
    assert classify["due_at"] == flow.clock.now + timedelta(hours=24)
    shown = flow.form("classify_conflict")
    assert (shown["conflict_source"], shown["requester"], shown["conflict_parties"]) == ("request", RAISER, PARTIES)

    flow.complete("classify_conflict", {"conflict_type": "职责分歧", "conflict_meeting_time": "2026-11-04T14:00",
                                        "conflict_meeting_place": "2楼会议室",
                                        "conflict_meeting_agenda": "明确技术支持流程"})
    announce = ("问题协调会（职责分歧）：客服投诉响应超时；时间：2026-11-04 14:00；地点：2楼会议室。"
                "请在会前提交本部门的立场与诉求")
    assert flow.notifications() == [(HEADS[d], "info", announce) for d in PARTIES]
    # every party's head states a position in parallel, before the meeting
    assert flow.assignees("state_positions") == PARTY_HEADS
    assert {t["due_at"] for t in flow.tasks("state_positions")} == {beijing("2026-11-04 14:00")}
    for dept in PARTIES:
        assert flow.form("state_positions", assignee=HEADS[dept])["party_dept"] == dept
    flow.complete("state_positions", POSITION, assignee=HEADS["CS"])
    assert flow.assignees("state_positions") == sorted([HEADS["SAL"], HEADS["PRD"]])
    flow.complete_each("state_positions", {HEADS["SAL"]: POSITION, HEADS["PRD"]: {
        "position_statement": "产品部没有收到正式的支持请求", "position_demands": "通过平台提交支持请求"}})

    proposal = flow.task("propose_solution")
    assert proposal["candidate_groups"] == ["platform_admins"]
    summary = flow.form("propose_solution")["conflict_position_summary"].split("\n")
    assert sorted(summary) == sorted([
        "SAL：立场——本部门人手已排满；诉求——调整时间或增加人手", "CS：立场——本部门人手已排满；诉求——调整时间或增加人手",
        "PRD：立场——产品部没有收到正式的支持请求；诉求——通过平台提交支持请求"])
    flow.complete("propose_solution", {"conflict_solution": SOLUTION})

    assert flow.assignees("confirm_solution") == PARTY_HEADS
    assert {t["due_at"] for t in flow.tasks("confirm_solution")} == {flow.clock.now + timedelta(days=3)}
    assert flow.form("confirm_solution", assignee=HEADS["PRD"])["conflict_solution"] == SOLUTION
    flow.complete_each("confirm_solution", {h: CONFIRM for h in PARTY_HEADS})
    assert flow.task("record_action_items")["candidate_groups"] == ["platform_admins"]
    flow.complete("record_action_items", {"action_items": ACTIONS})

    assert flow.status == "completed"
    assert {"conflict_settled"} <= flow.reached()
    assert not {"arbitrate", "conflict_arbitrated"} & flow.reached()
    settled = "问题已协商一致：客服投诉响应超时，请按问题解决行动表执行"
    assert flow.notifications() == [(HEADS[d], "info", settled) for d in PARTIES] + [(RAISER, "info", settled)]
    data = flow.data()
    assert (data["conflict_outcome"], data["conflict_type"], data["action_items"]) == ("consensus", "职责分歧", ACTIONS)
    assert sorted(c["dept"] for c in data["conflict_confirmations"]) == sorted(PARTIES)
    # what no step reads stays in the records only
    assert "conflict_meeting_agenda" not in data
    (meeting,) = flow.records("meeting")
    assert (meeting["agenda"], meeting["place"]) == ("明确技术支持流程", "2楼会议室")
    assert sorted(p["department_id"] for p in flow.records("conflict_position")) == sorted(PARTIES)


def test_a_dissenting_party_escalates_to_the_common_superior_whose_ruling_ends_it(flow):
    _raise_conflict(flow)
    to_confirmation(flow, PARTIES, SOLUTION)
    flow.notifications()
    flow.complete_each("confirm_solution", {HEADS["SAL"]: CONFIRM, HEADS["PRD"]: CONFIRM, HEADS["CS"]: DISSENT})

    assert flow.open_elements() == ["arbitrate"]
    assert flow.task("arbitrate")["assignee"] == "wangzong"  # 王总, above all three heads
    assert flow.notifications() == [
        ("wangzong", "escalation", "问题协调升级，请裁决：客服投诉响应超时（未达成一致：CS 不同意解决方案）")]
    shown = flow.form("arbitrate")
    assert shown["conflict_escalation_reason"] == "未达成一致：CS 不同意解决方案"
    assert shown["conflict_solution"] == SOLUTION
    assert len(shown["conflict_position_summary"].split("\n")) == 3

    ruling = {"arbitration_decision": "按管理员方案执行，客服部增派1人值守", "action_items": ACTIONS}
    flow.complete("arbitrate", ruling)
    assert flow.status == "completed"
    assert {"conflict_arbitrated"} <= flow.reached() and "conflict_settled" not in flow.reached()
    announced = "上级已裁决（具有约束力）：客服投诉响应超时，请按问题解决行动表执行"
    assert flow.notifications() == [(HEADS[d], "info", announced) for d in PARTIES] + [(RAISER, "info", announced)]
    data = flow.data()
    assert (data["conflict_outcome"], data["action_items"]) == ("arbitrated", ACTIONS)
    assert data["conflict_dissenters"] == ["CS"]
    assert "arbitration_decision" not in data  # the ruling is a record: the action table's decision
    (table,) = flow.records("action_items")
    assert (table["decision"], table["author"]) == (ruling["arbitration_decision"], "wangzong")
    assert [(i["action"], i["owner"]) for i in table["items"]] == [(a["action"], a["owner"]) for a in ACTIONS]


def test_a_passed_confirmation_deadline_escalates(flow):
    _raise_conflict(flow)
    to_confirmation(flow, PARTIES, SOLUTION)
    flow.complete("confirm_solution", CONFIRM, assignee=HEADS["SAL"])
    flow.notifications()

    flow.advance(days=2, hours=23, minutes=59)
    assert flow.assignees("confirm_solution") == sorted([HEADS["CS"], HEADS["PRD"]])
    flow.advance(minutes=1)
    assert flow.open_elements() == ["arbitrate"]  # the late confirmations are withdrawn
    assert sorted(e["element_id"] for e in flow.history("task_cancelled")) == ["confirm_solution"] * 2
    assert flow.timers_fired() == ["confirm_deadline_timer"]
    reason = "解决方案确认超过3天仍未完成"
    assert flow.notifications() == [("wangzong", "escalation", f"问题协调升级，请裁决：客服投诉响应超时（{reason}）")]
    assert flow.form("arbitrate")["conflict_escalation_reason"] == reason

    flow.complete("arbitrate", {"arbitration_decision": "按方案执行", "action_items": ACTIONS})
    assert flow.status == "completed"
    assert flow.data()["conflict_outcome"] == "arbitrated"
    assert "conflict_arbitrated" in flow.reached()


def test_an_arbitration_replays_with_the_superiors_of_its_time_after_the_organisation_changed(flow):
    """The common superior is read from the organisation as it was: after the request ended, the
    three heads report to 刘总监 and 郭经理 moves to 技术部, a department gets a new parent, an
    absence is taken back and a group loses a member; the old request still replays to its state."""
    _raise_conflict(flow)
    to_confirmation(flow, PARTIES, SOLUTION)
    flow.complete_each("confirm_solution", {HEADS["SAL"]: CONFIRM, HEADS["PRD"]: CONFIRM, HEADS["CS"]: DISSENT})
    assert flow.task("arbitrate")["assignee"] == "wangzong"
    flow.complete("arbitrate", {"arbitration_decision": "按方案执行", "action_items": ACTIONS})
    escalated = flow.clock.now
    ctx = flow.ctx
    absence = add_substitute(ctx, "huangjingli", "xiaoli", escalated.date(), escalated.date(), "出差", "lijingli")

    flow.advance(hours=24)
    moved = "\n".join(["departments:", "  - {id: CS, name: 客服部, parent: TEC, head: guojingli, interface: tangmei}",
                       "users:"] + [f"  - {{id: {u}, name: {u}, department: {d}, superior: liuzongjian}}" for u, d in (
                           ("huangjingli", "SAL"), ("chenzongjian", "PRD"), ("guojingli", "TEC"))])
    import_org(ctx, parse_yaml(moved), "lijingli")
    remove_substitute(ctx, absence, "lijingli")
    with ctx.db.write() as s:
        s.delete(s.get(GroupMembership, ("xiaozhou", "platform_admins")))
        bump_revision(s, flow.clock.now, "lijingli")
    assert directory(ctx).common_superior(PARTY_HEADS) == "liuzongjian"

    report = replay_check(ctx, [flow.instance_id])
    assert (report["matched"], report["mismatches"]) == (1, [])
    with ctx.db.transaction(write=False) as tx:
        history = History(tx)
    then, now = history.directory(escalated), history.directory(flow.clock.now)
    assert (then.common_superior(PARTY_HEADS), now.common_superior(PARTY_HEADS)) == ("wangzong", "liuzongjian")
    assert (then.department_of("guojingli"), now.department_of("guojingli")) == ("CS", "TEC")
    assert (then.departments["CS"]["parent_id"], now.departments["CS"]["parent_id"]) == ("GM", "TEC")
    assert (then.substitute_of("huangjingli", escalated.date()), now.substitute_of("huangjingli", escalated.date())) \
        == ("xiaoli", None)
    assert "xiaozhou" in then.members("platform_admins") and "xiaozhou" not in now.members("platform_admins")
    assert history.directory(escalated - timedelta(days=30)).users["guojingli"]["superior_id"] == "wangzong"


def test_an_organisation_change_outside_the_services_is_refused_unrecorded(flow):
    """A change the organisation's history would miss (no bump_revision) does not commit."""
    with pytest.raises(RuntimeError, match="without bump_revision"), flow.ctx.db.write() as s:
        s.get(AppUser, "guojingli").superior_id = "liuzongjian"
    assert directory(flow.ctx).superior("guojingli") == "wangzong"
