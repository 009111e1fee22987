"""Moving running requests of the collaboration process to a newer version (engine/workflow/migration.py).

Version 2 renames a label of 确认主责 (lead_confirm), adds a required field to it and puts a new
check (archive_check) after 归档需求资料; version 3 also drops lead_confirm's 24-hour timer. Each
request is driven by the scenario driver (only through the engine services) and, once moved, runs to
its end on the new version.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select

from engine.audit.verify import verify_all
from engine.bpmn.deploy import deploy
from engine.bpmn.versions import list_versions
from engine.db.chain import process_events
from engine.db.models import InboxTask, ProcessInstance
from engine.errors import FormInvalid, PermissionDenied
from engine.workflow.migration import MigrationRefused, migrate_instance, migrate_instances, preview_migration
from tests.helpers import assert_reload_matches
from tests.scenarios.driver import MONDAY, Flow, set_up_org
from tests.scenarios.steps import (
    MAIN,
    PLAN,
    PMO_OWNER,
    REQUESTER,
    finish_task,
    to_execution,
    to_lead_confirm,
    to_review,
)

ROOT = Path(__file__).parents[2]
V1 = (ROOT / "processes" / "collaboration_request.bpmn").read_text("utf-8")
CONFLICT = (ROOT / "processes" / "conflict_resolution.bpmn").read_bytes()
NEW_FIELD = ('<camunda:formField id="lead_contact" label="主责部门联系人" type="string">'
             '<camunda:validation><camunda:constraint name="required"/></camunda:validation>'
             '</camunda:formField>')
CHECK_TASK = ('<bpmn:userTask id="archive_check" name="归档复核" camunda:candidateGroups="platform_admins">'
              '<bpmn:extensionElements><camunda:formData>'
              '<camunda:formField id="archive_checked" label="归档已复核" type="boolean"/>'
              '</camunda:formData></bpmn:extensionElements>'
              '<bpmn:incoming>f_archived</bpmn:incoming><bpmn:outgoing>f_checked</bpmn:outgoing></bpmn:userTask>')


def _edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def version_2(text: str = V1) -> str:
    text = _edit(text, 'label="是否接收" type="enum">', 'label="是否接收主责" type="enum">')
    text = _edit(text, '<camunda:formField id="objection" label="异议说明（提出异议时填写',
                 NEW_FIELD + '<camunda:formField id="objection" label="异议说明（提出异议时填写')
    text = _edit(text, '<bpmn:incoming>f_archived</bpmn:incoming>\n', '<bpmn:incoming>f_checked</bpmn:incoming>\n')
    text = _edit(text, '<bpmn:parallelGateway id="retro_fork">', CHECK_TASK + '<bpmn:parallelGateway id="retro_fork">')
    return _edit(text, '<bpmn:sequenceFlow id="f_archived" sourceRef="archive_request" targetRef="retro_fork"/>',
                 '<bpmn:sequenceFlow id="f_archived" sourceRef="archive_request" targetRef="archive_check"/>'
                 '<bpmn:sequenceFlow id="f_checked" sourceRef="archive_check" targetRef="retro_fork"/>')


def version_3() -> str:
    """Version 2 without lead_confirm's timer, the reminder it starts and their flows (and shapes)."""
    gone = {"lead_confirm_timer", "remind_lead_confirm", "lead_confirm_reminded", "f_confirm_timeout",
            "f_confirm_reminded"}
    root = etree.fromstring(version_2().encode("utf-8"))
    for node in list(root.iter()):
        if not isinstance(node.tag, str):
            continue
        if node.get("id") in gone or node.get("bpmnElement") in gone or (node.text or "").strip() in gone:
            node.getparent().remove(node)
    return etree.tostring(root, encoding="unicode")


def _deploy(ctx, text: str) -> int:
    found = [v for v in deploy(ctx, {"collaboration_request.bpmn": text.encode("utf-8"),
                                     "conflict_resolution.bpmn": CONFLICT}, "liuzongjian") if v.process_id == MAIN]
    return found[0].version_id


@pytest.fixture
def org(ctx):
    return set_up_org(ctx)


@pytest.fixture
def v1(org):
    return list_versions(org, MAIN)[0]["version_id"]


def _flow(ctx, clock) -> Flow:
    clock.now = MONDAY
    return Flow(ctx, clock)


def _version_of(ctx, instance_id: str) -> int:
    with ctx.db.read() as s:
        return s.get(ProcessInstance, instance_id).process_version


def _finish_from_lead_confirm(flow: Flow, **lead) -> None:
    """From 确认主责 to the end, through the plan, its execution and the closing steps."""
    flow.complete("lead_confirm", {"lead_decision": "确认接收", **lead})
    from tests.scenarios.steps import AGREE, HEADS, RISK_PLAN, give_feedback
    give_feedback(flow)
    flow.complete("organise_coordination", {"coordination_mode": "在线讨论（不开会）"})
    flow.complete("write_plan", {"plan_tasks": PLAN, "risk_plan": RISK_PLAN})
    flow.complete_each("approve_plan", {HEADS["PRD"]: AGREE, HEADS["SAL"]: AGREE})
    _close(flow)


def _close(flow: Flow) -> None:
    for task in PLAN:
        finish_task(flow, task["owner"])
    flow.complete("archive_request", {"archive_complete": True, "archive_note": "已归档"}, as_user=PMO_OWNER)
    if flow.tasks("archive_check"):
        flow.complete("archive_check", {"archive_checked": True}, as_user=PMO_OWNER)
    flow.complete("rate_satisfaction", {"satisfaction": 5})
    flow.complete("retrospective", {"retro_participants": ["MKT"], "retro_goal": "目标", "retro_result": "结果",
                                    "retro_highlights": "亮点", "retro_problems": "问题", "retro_improvements": "改进"})
    flow.complete("distill_lessons", {"lesson_title": "经验", "lesson_body": "内容", "lesson_tags": "协作"})
    assert flow.status == "completed", flow.open_elements()


def test_preview_lists_who_can_move_and_a_moved_request_shows_the_new_form_and_runs_to_its_end(org, clock, v1):
    waiting = _flow(org, clock)
    to_review(waiting)  # at 审核 (admin_review): nothing it passed or waits on changes
    moving = _flow(org, clock)
    to_lead_confirm(moving)  # at 确认主责, its 24-hour timer waiting
    with org.db.read() as s:
        due_before = s.get(ProcessInstance, moving.instance_id).next_due_at
    v2 = _deploy(org, version_2())

    preview = preview_migration(org, v1, v2)
    assert (preview["from_version"], preview["to_version"], preview["movable"]) == (1, 2, 2)
    rows = {i["instance_id"]: i for i in preview["instances"]}
    assert rows[moving.instance_id]["open_tasks"] == ["lead_confirm"]
    assert rows[waiting.instance_id]["reasons"] == []
    # The preview changed nothing: both still run on version 1 with their old form.
    assert _version_of(org, moving.instance_id) == 1
    labels = {f["id"]: f["label"] for f in _form(org, moving)}
    assert labels["lead_decision"] == "是否接收" and "lead_contact" not in labels

    result = migrate_instance(org, moving.instance_id, v2, "liuzongjian")
    assert result.status == "running"
    assert_reload_matches(org, moving.instance_id)
    assert _version_of(org, moving.instance_id) == 2 and _version_of(org, waiting.instance_id) == 1
    labels = {f["id"]: f["label"] for f in _form(org, moving)}
    assert labels["lead_decision"] == "是否接收主责" and labels["lead_contact"] == "主责部门联系人"
    with org.db.read() as s:
        row = s.get(ProcessInstance, moving.instance_id)
        assert row.next_due_at == due_before  # the timer kept its due time
        inbox = s.scalars(select(InboxTask).where(InboxTask.instance_id == moving.instance_id)).all()
        assert [(t.element_id, t.process_version) for t in inbox] == [("lead_confirm", 2)]
    event = moving.history()[-1]
    assert (event["type"], event["actor"]) == ("instance_migrated", "liuzongjian")
    data = event["data"]
    assert (data["from_version"], data["to_version"], data["open_tasks"]) == (1, 2, ["lead_confirm"])

    # The timer fires at its old time on the new version, then the new form is enforced.
    moving.advance(hours=24)
    assert "lead_confirm_timer" in moving.timers_fired()
    with pytest.raises(FormInvalid) as refused:
        moving.complete("lead_confirm", {"lead_decision": "确认接收"})
    assert list(refused.value.errors) == ["lead_contact"]
    _finish_from_lead_confirm(moving, lead_contact="张总监 8001")
    assert "archive_check" in moving.reached()

    # The request left on version 1 runs its old flow to the end: no archive_check there.
    waiting.complete("admin_review", {"review_decision": "通过", "review_comment": "可行"})
    waiting.complete("dispatch_lead", {"lead_dept": "MKT", "pmo_owner": PMO_OWNER, "dispatch_note": "请牵头"},
                     as_user=PMO_OWNER)
    _finish_from_lead_confirm(waiting)
    assert "archive_check" not in waiting.reached()
    assert verify_all(org)["problems"] == []


def _form(ctx, flow: Flow) -> list[dict]:
    from engine.workflow.instances import task_form

    task = flow.task("lead_confirm")
    return task_form(ctx, task["task_id"], flow.actor(task))["form"]["fields"]


def test_requests_whose_open_task_changed_its_boundary_events_stay_and_the_preview_says_why(org, clock, v1):
    at_lead = _flow(org, clock)
    to_lead_confirm(at_lead)
    at_review = _flow(org, clock)
    to_review(at_review)
    done = _flow(org, clock)
    to_review(done)
    from engine.workflow.instances import cancel_instance
    cancel_instance(org, done.instance_id, REQUESTER, "不再需要")
    v3 = _deploy(org, version_3())

    preview = preview_migration(org, v1, v3)
    rows = {i["instance_id"]: i for i in preview["instances"]}
    assert done.instance_id not in rows  # only running (and errored) requests are listed
    assert rows[at_review.instance_id]["movable"] is True
    assert rows[at_lead.instance_id]["movable"] is False
    assert [(r["code"], r["element_id"]) for r in rows[at_lead.instance_id]["reasons"]] == [
        ("boundary_changed", "lead_confirm")]

    with pytest.raises(MigrationRefused) as refused:
        migrate_instance(org, at_lead.instance_id, v3, "lijingli")
    assert refused.value.reasons[0]["element_id"] == "lead_confirm"
    assert _version_of(org, at_lead.instance_id) == 1
    assert_reload_matches(org, at_lead.instance_id) if org.store.cache.size else None

    outcome = migrate_instances(org, v1, v3, "lijingli")
    assert outcome["moved"] == [{"instance_id": at_review.instance_id, "business_key": at_review.describe()[
        "business_key"]}]
    assert [r["instance_id"] for r in outcome["refused"]] == [at_lead.instance_id]
    # The process's chain holds the move (written with it) and the batch with what was refused and why.
    events = process_events(org, MAIN)
    assert [e["type"] for e in events[:2]] == ["instances_migrated", "instance_migrated"]
    batch, move = events[0], events[1]
    assert batch["seq"] == outcome["seq"] and batch["actor"] == "lijingli"
    assert (batch["data"]["from_version"], batch["data"]["to_version"]) == (1, 2)  # version_3 is the second
    assert batch["data"]["moved"] == outcome["moved"]
    assert [(r["instance_id"], [x["code"] for x in r["reasons"]]) for r in batch["data"]["refused"]] == [
        (at_lead.instance_id, ["boundary_changed"])]
    assert (move["data"]["instance_id"], move["data"]["from_version"], move["data"]["to_version"]) == (
        at_review.instance_id, 1, 2)
    assert events[2]["type"] == "process_deployed" and events[2]["data"]["version"] == 2
    # Moved past the removed timer: 确认主责 now has none.
    at_review.complete("admin_review", {"review_decision": "通过", "review_comment": "可行"})
    at_review.complete("dispatch_lead", {"lead_dept": "MKT", "pmo_owner": PMO_OWNER, "dispatch_note": "请牵头"},
                       as_user=PMO_OWNER)
    with org.db.read() as s:
        assert s.get(ProcessInstance, at_review.instance_id).next_due_at is None
    _finish_from_lead_confirm(at_review, lead_contact="张总监")
    # The request that stayed still runs on version 1, its timer included.
    at_lead.advance(hours=24)
    assert "lead_confirm_timer" in at_lead.timers_fired()
    assert verify_all(org)["problems"] == []


def test_a_request_in_execution_moves_with_its_parallel_plan_tasks(org, clock, v1):
    flow = _flow(org, clock)
    to_execution(flow)
    open_before = flow.open_elements()
    v2 = _deploy(org, version_2())
    (row,) = preview_migration(org, v1, v2)["instances"]
    assert row["movable"], row["reasons"]
    migrate_instance(org, flow.instance_id, v2, "lijingli")
    assert_reload_matches(org, flow.instance_id)
    assert flow.open_elements() == open_before
    _close(flow)
    assert "archive_check" in flow.reached()


def test_only_process_owners_migrate_and_only_to_a_newer_version(org, clock, v1):
    flow = _flow(org, clock)
    to_review(flow)
    v2 = _deploy(org, version_2())
    with pytest.raises(PermissionDenied):
        migrate_instance(org, flow.instance_id, v2, "xiaowang")
    with pytest.raises(PermissionDenied):
        migrate_instances(org, v1, v2, "shenjie")
    migrate_instance(org, flow.instance_id, v2, "lijingli")
    with pytest.raises(MigrationRefused) as refused:
        migrate_instance(org, flow.instance_id, v1, "lijingli")
    assert refused.value.reasons[0]["code"] == "not_older"
    assert _version_of(org, flow.instance_id) == 2
