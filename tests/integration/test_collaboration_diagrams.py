"""The two product diagrams: the six-step collaboration flow and the conflict subprocess.

They must be valid BPMN 2.0, deploy together (also with `xiezuo deploy processes`), be drawn
completely and readably (checked from the diagram interchange), and say what PRODUCT.md says:
every user task has an assignment and its template's fields, every deadline is a due date or a timer.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from collections import defaultdict
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import XSD_PATH

from engine.bpmn.deploy import deploy, list_versions
from engine.bpmn.forms import field_from_xml
from engine.bpmn.scripting import check_source
from engine.bpmn.validate import parse_deployment
from engine.errors import InvalidProcess

ROOT = Path(__file__).parents[2]
PROCESSES = ROOT / "processes"
MAIN, CONFLICT = "collaboration_request.bpmn", "conflict_resolution.bpmn"
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
NS = {"bpmn": BPMN, "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "dc": "http://www.omg.org/spec/DD/20100524/DC", "di": "http://www.omg.org/spec/DD/20100524/DI",
      "camunda": CAMUNDA}
BPMN_XSD = etree.XMLSchema(etree.parse(XSD_PATH))
TOL = 1.0  # pixels

FLOW_NODES = {
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "task", "userTask", "scriptTask", "serviceTask", "sendTask", "receiveTask", "manualTask",
    "businessRuleTask", "callActivity", "subProcess", "transaction", "adHocSubProcess",
    "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway",
}
CONTAINERS = {"subProcess", "transaction", "adHocSubProcess"}


def _bytes(name: str) -> bytes:
    return (PROCESSES / name).read_bytes()


def _root(name: str) -> etree._Element:
    return etree.fromstring(_bytes(name), etree.XMLParser(resolve_entities=False, load_dtd=False,
                                                          no_network=True))


def _local(node) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def _by_id(root) -> dict[str, etree._Element]:
    return {n.get("id"): n for n in root.iter() if isinstance(n.tag, str) and n.get("id")
            and etree.QName(n).namespace == BPMN}


# ---------------------------------------------------------------- geometry

@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    def inside(self, other: Box) -> bool:
        return (self.x >= other.x - TOL and self.y >= other.y - TOL and self.right <= other.right + TOL
                and self.bottom <= other.bottom + TOL)

    def overlaps(self, other: Box) -> bool:
        """The interiors intersect (touching edges do not count)."""
        return (min(self.right, other.right) - max(self.x, other.x) > TOL
                and min(self.bottom, other.bottom) - max(self.y, other.y) > TOL)


def _shapes(root) -> dict[str, Box]:
    shapes = {}
    for shape in root.iterfind(".//bpmndi:BPMNShape", NS):
        b = shape.find("dc:Bounds", NS)
        shapes[shape.get("bpmnElement")] = Box(*(float(b.get(k)) for k in ("x", "y", "width", "height")))
    return shapes


def _edges(root) -> dict[str, list[tuple[float, float]]]:
    return {e.get("bpmnElement"): [(float(p.get("x")), float(p.get("y"))) for p in e.iterfind("di:waypoint", NS)]
            for e in root.iterfind(".//bpmndi:BPMNEdge", NS)}


def _touches(kind: str, box: Box, point: tuple[float, float]) -> bool:
    """Whether a waypoint lies on the drawn outline of an element: circle, diamond or rectangle."""
    px, py = point
    if kind.endswith("Event"):
        return abs(math.hypot(px - box.cx, py - box.cy) - box.w / 2) <= TOL + 1
    if kind.endswith("Gateway"):
        norm = abs(px - box.cx) / (box.w / 2) + abs(py - box.cy) / (box.h / 2)
        return abs(norm - 1) * box.w / 2 <= TOL + 1
    within = box.x - TOL <= px <= box.right + TOL and box.y - TOL <= py <= box.bottom + TOL
    return within and min(abs(px - box.x), abs(px - box.right), abs(py - box.y), abs(py - box.bottom)) <= TOL


def di_problems(root) -> list[str]:
    """What the diagram interchange lacks: shapes, edges with waypoints, endpoints on their elements."""
    elements = _by_id(root)
    shapes, edges = _shapes(root), _edges(root)
    problems = []
    for eid, node in elements.items():
        kind = _local(node)
        if (kind in FLOW_NODES or kind in ("lane", "participant", "dataObjectReference", "dataStoreReference")) \
                and eid not in shapes:
            problems.append(f"{kind} {eid} has no BPMNShape")
        if kind == "sequenceFlow":
            points = edges.get(eid)
            if points is None:
                problems.append(f"sequence flow {eid} has no BPMNEdge")
                continue
            if len(points) < 2:
                problems.append(f"sequence flow {eid} has {len(points)} waypoint(s)")
                continue
            for end, ref in ((points[0], node.get("sourceRef")), (points[-1], node.get("targetRef"))):
                if ref in shapes and not _touches(_local(elements[ref]), shapes[ref], end):
                    problems.append(f"sequence flow {eid}: waypoint {end} is not on the outline of {ref}")
    for eid in [*shapes, *edges]:
        if eid not in elements:
            problems.append(f"diagram element for unknown id {eid}")
    return problems


def _containers(node, elements) -> list[str]:
    """Ids of what a flow node is drawn within: its boundary host, then enclosing subprocesses."""
    chain = []
    if _local(node) == "boundaryEvent":
        chain.append(node.get("attachedToRef"))
        node = elements[node.get("attachedToRef")]
    parent = node.getparent()
    while parent is not None and _local(parent) != "process":
        if _local(parent) in CONTAINERS:
            chain.append(parent.get("id"))
        parent = parent.getparent()
    return chain


def _flow_graph(process) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for flow in process.iter(f"{{{BPMN}}}sequenceFlow"):
        graph[flow.get("sourceRef")].add(flow.get("targetRef"))
    for event in process.iter(f"{{{BPMN}}}boundaryEvent"):
        graph[event.get("attachedToRef")].add(event.get("id"))
    return graph


def _reaches(graph, start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        current = todo.pop()
        if current == goal:
            return True
        if current not in seen:
            seen.add(current)
            todo.extend(graph.get(current, ()))
    return False


def layout_problems(root) -> list[str]:
    """Readability: lanes stack and span the pool, nodes sit in their lane (or subprocess) without
    overlapping, boundary events sit on their host's border, and only loops run right to left."""
    elements = _by_id(root)
    shapes = _shapes(root)
    problems = []
    for participant in root.iterfind(".//bpmn:participant", NS):
        pool = shapes.get(participant.get("id"))
        process = elements.get(participant.get("processRef"))
        if pool is None or process is None:
            problems.append(f"participant {participant.get('id')} has no shape or no process")
            continue
        lanes = [(lane, shapes[lane.get("id")]) for lane in process.iterfind("bpmn:laneSet/bpmn:lane", NS)
                 if lane.get("id") in shapes]
        lanes.sort(key=lambda pair: pair[1].y)
        if not lanes:
            problems.append(f"process {process.get('id')} has no lanes")
            continue
        if abs(lanes[0][1].y - pool.y) > TOL:
            problems.append(f"lane {lanes[0][0].get('id')} does not start at the top of the pool")
        if abs(lanes[-1][1].bottom - pool.bottom) > TOL:
            problems.append(f"lane {lanes[-1][0].get('id')} does not end at the bottom of the pool")
        for (upper, ubox), (lower, lbox) in zip(lanes, lanes[1:], strict=False):
            if ubox.bottom > lbox.y + TOL:
                problems.append(f"lanes {upper.get('id')} and {lower.get('id')} overlap")
            elif ubox.bottom < lbox.y - TOL:
                problems.append(f"there is a gap between lanes {upper.get('id')} and {lower.get('id')}")
        for lane, box in lanes:
            if not (pool.x < box.x and abs(box.right - pool.right) <= TOL and box.h > 0):
                problems.append(f"lane {lane.get('id')} does not span the pool from its label band to its right")
        lane_of: dict[str, list[str]] = defaultdict(list)
        for lane, _ in lanes:
            for ref in lane.iterfind("bpmn:flowNodeRef", NS):
                lane_of[ref.text].append(lane.get("id"))
        nodes = [n for n in process.iter() if _local(n) in FLOW_NODES]
        for node in nodes:
            nid, box = node.get("id"), shapes.get(node.get("id"))
            if box is None:
                continue
            if not box.inside(pool):
                problems.append(f"{nid} lies outside the pool")
            enclosing = [c for c in _containers(node, elements)
                         if _local(elements[c]) in CONTAINERS]
            if _local(node.getparent()) == "process":
                if len(lane_of[nid]) != 1:
                    problems.append(f"{nid} is in {len(lane_of[nid])} lanes, not one")
                else:
                    lane_box = shapes[lane_of[nid][0]]
                    if not box.inside(lane_box):
                        problems.append(f"{nid} lies outside its lane {lane_of[nid][0]}")
            elif enclosing and not box.inside(shapes[enclosing[0]]):
                problems.append(f"{nid} lies outside its subprocess {enclosing[0]}")
            host = shapes.get(node.get("attachedToRef") or "")
            if _local(node) == "boundaryEvent" and host is not None:
                on_horizontal = (min(abs(box.cy - host.y), abs(box.cy - host.bottom)) <= TOL
                                 and host.x <= box.cx <= host.right)
                on_vertical = (min(abs(box.cx - host.x), abs(box.cx - host.right)) <= TOL
                               and host.y <= box.cy <= host.bottom)
                if not (on_horizontal or on_vertical):
                    problems.append(f"boundary event {nid} is not on the border of {node.get('attachedToRef')}")
        for i, a in enumerate(nodes):
            for b in nodes[i + 1:]:
                ida, idb = a.get("id"), b.get("id")
                if ida not in shapes or idb not in shapes:
                    continue
                if ida in _containers(b, elements) or idb in _containers(a, elements):
                    continue
                if shapes[ida].overlaps(shapes[idb]):
                    problems.append(f"{ida} and {idb} overlap")
        graph = _flow_graph(process)
        for start in process.iterfind("bpmn:startEvent", NS):
            left = [n.get("id") for n in nodes if n is not start and n.get("id") in shapes
                    and _local(n.getparent()) == "process" and shapes[n.get("id")].cx < shapes[start.get("id")].cx]
            if left:
                problems.append(f"start event {start.get('id')} is not the leftmost element: {left}")
        for flow in process.iter(f"{{{BPMN}}}sequenceFlow"):
            src, tgt = flow.get("sourceRef"), flow.get("targetRef")
            if src in shapes and tgt in shapes and shapes[tgt].cx < shapes[src].cx - TOL \
                    and not _reaches(graph, tgt, src):
                problems.append(f"sequence flow {flow.get('id')} runs right to left without closing a loop")
    return problems


# ---------------------------------------------------------------- 1. valid BPMN 2.0

@pytest.mark.parametrize("name", [MAIN, CONFLICT])
def test_diagram_is_valid_bpmn_20(name):
    root = _root(name)
    assert BPMN_XSD.validate(root), [str(e) for e in BPMN_XSD.error_log]


@pytest.mark.parametrize("name", [MAIN, CONFLICT])
def test_ids_are_english_and_names_chinese(name):
    root = _root(name)
    cjk = re.compile(r"[\u4e00-\u9fff]")
    for eid, node in _by_id(root).items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", eid), eid
        assert eid not in ("Start", "End")
        kind = _local(node)
        if kind in FLOW_NODES - {"exclusiveGateway", "parallelGateway"} or kind in ("lane", "participant", "process"):
            assert cjk.search(node.get("name") or ""), f"{kind} {eid} needs a Chinese name"
        if kind == "exclusiveGateway" and len(root.xpath(".//bpmn:sequenceFlow[@sourceRef=$r]", r=eid,
                                                         namespaces=NS)) > 1:
            assert cjk.search(node.get("name") or ""), f"deciding gateway {eid} needs a question as its name"


# ---------------------------------------------------------------- 2. deploy

def _files() -> dict[str, bytes]:
    return {MAIN: _bytes(MAIN), CONFLICT: _bytes(CONFLICT)}


def test_the_engine_parses_both_files():
    parsed = parse_deployment(_files())
    assert sorted(parsed.specs) == ["collaboration_request", "conflict_resolution"]
    main_spec, subprocesses = parsed.specs["collaboration_request"]
    assert {"conflict_resolution", "execute_plan_task"} <= set(subprocesses)


def test_both_diagrams_deploy_together(ctx):
    deployed = deploy(ctx, _files(), "owner")
    assert sorted((v.process_id, v.version, v.created) for v in deployed) == [
        ("collaboration_request", 1, True), ("conflict_resolution", 1, True)]
    assert [(v["process_id"], v["name"]) for v in list_versions(ctx)] == [
        ("collaboration_request", "跨部门协作需求"), ("conflict_resolution", "问题协调（二次协调）")]
    again = deploy(ctx, _files(), "owner")
    assert sorted((v.process_id, v.version, v.created) for v in again) == [
        ("collaboration_request", 1, False), ("conflict_resolution", 1, False)]


def test_the_main_flow_alone_is_refused_for_its_call_activity(ctx):
    with pytest.raises(InvalidProcess) as info:
        deploy(ctx, {MAIN: _bytes(MAIN)}, "owner")
    assert ("plan_conflict", MAIN) in {(p.element_id, p.file) for p in info.value.problems}


def test_xiezuo_deploy_processes_as_a_real_process(tmp_path):
    def run() -> list[str]:
        done = subprocess.run([sys.executable, "-m", "engine.cli.main", "--database-url",
                               f"sqlite:///{tmp_path / 'cli.db'}", "deploy", "processes"],
                              capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert done.returncode == 0, (done.stdout, done.stderr)
        return done.stdout.splitlines()

    first = run()
    assert {"collaboration_request v1 deployed", "conflict_resolution v1 deployed"} <= set(first), first
    assert {"collaboration_request v1 unchanged", "conflict_resolution v1 unchanged"} <= set(run())


# ---------------------------------------------------------------- 3. diagram interchange and layout

@pytest.mark.parametrize("name", [MAIN, CONFLICT])
def test_diagram_interchange_is_complete(name):
    assert di_problems(_root(name)) == []


@pytest.mark.parametrize("name", [MAIN, CONFLICT])
def test_layout_is_readable(name):
    root = _root(name)
    assert layout_problems(root) == []
    assert len(root.findall(".//bpmn:participant", NS)) == len(root.findall("bpmn:process", NS)) == 1


def test_pool_has_a_lane_per_role():
    lanes = {n.get("name") for n in _root(MAIN).iterfind(".//bpmn:lane", NS)}
    for role in ("发起人", "发起部门负责人", "平台管理员", "主责部门负责人", "协同部门", "任务责任人"):
        assert any(name.startswith(role) for name in lanes), role
    conflict_lanes = {n.get("name") for n in _root(CONFLICT).iterfind(".//bpmn:lane", NS)}
    assert {"平台管理员", "上级领导"} <= conflict_lanes


def _moved(root, element_id: str, dx: float = 0, dy: float = 0, dh: float = 0):
    bounds = root.find(f".//bpmndi:BPMNShape[@bpmnElement='{element_id}']/dc:Bounds", NS)
    bounds.set("x", str(float(bounds.get("x")) + dx))
    bounds.set("y", str(float(bounds.get("y")) + dy))
    bounds.set("height", str(float(bounds.get("height")) + dh))
    return root


def test_geometry_checks_find_what_is_wrong():
    """Each check fails on a diagram broken in the way it looks for."""
    def broken(change) -> list[str]:
        root = deepcopy(_root(MAIN))
        change(root)
        return di_problems(root) + layout_problems(root)

    def drop_shape(root):
        shape = root.find(".//bpmndi:BPMNShape[@bpmnElement='write_plan']", NS)
        shape.getparent().remove(shape)

    def drop_waypoints(root):
        edge = root.find(".//bpmndi:BPMNEdge[@bpmnElement='f_plan']", NS)
        for point in edge.findall("di:waypoint", NS)[1:]:
            edge.remove(point)

    def unlist(root):
        ref = root.xpath(".//bpmn:flowNodeRef[text()='archive_request']", namespaces=NS)[0]
        ref.getparent().remove(ref)

    def twice(root):
        lane = root.find(".//bpmn:lane[@id='lane_requester']", NS)
        etree.SubElement(lane, f"{{{BPMN}}}flowNodeRef").text = "archive_request"

    shapes = _shapes(_root(MAIN))
    gap = shapes["prepare_approval"].x - shapes["write_plan"].x
    cases = {
        "userTask write_plan has no BPMNShape": drop_shape,
        "sequence flow f_plan has 1 waypoint(s)": drop_waypoints,
        "write_plan and prepare_approval overlap": lambda r: _moved(r, "write_plan", dx=gap - 20),
        "boundary event plan_timer is not on the border of write_plan": lambda r: _moved(r, "plan_timer", dy=30),
        "organise_coordination lies outside its lane lane_lead": lambda r: _moved(r, "organise_coordination",
                                                                                  dy=-160),
        "execute_task lies outside its subprocess execute_plan_task": lambda r: _moved(r, "execute_task", dy=-400),
        "lanes lane_admin and lane_lead overlap": lambda r: _moved(r, "lane_admin", dh=10),
        "there is a gap between lanes lane_admin and lane_lead": lambda r: _moved(r, "lane_admin", dh=-10),
        "sequence flow f_closed runs right to left without closing a loop": lambda r: _moved(
            r, "request_closed", dx=-400),
        "sequence flow f_closed: waypoint": lambda r: _moved(r, "request_closed", dy=40),
        "archive_request is in 0 lanes, not one": unlist,
        "archive_request is in 2 lanes, not one": twice,
    }
    for expected, change in cases.items():
        found = broken(change)
        assert any(p.startswith(expected) for p in found), (expected, found)


# ---------------------------------------------------------------- 4. assignments, forms, deadlines

TEMPLATE_1 = {  # 跨部门沟通需求申请表
    "request_type": ("enum", True), "title": ("string", True), "background": ("text", True),
    "goal": ("text", True), "involved_depts": ("departments", True), "details": ("text", True),
    "expected_date": ("date", True), "priority": ("enum", True), "urgency": ("enum", True),
    "contact": ("string", True), "related_project": ("string", False), "attachments": ("files", False),
}
TEMPLATE_2 = {  # 部门协调反馈表
    "feedback_content": ("text", True), "feedback_suggested_date": ("date", True),
    "feedback_resources": ("text", False), "feedback_remarks": ("text", False),
}
TEMPLATE_3 = {  # 进度跟踪表: posted while the task is open, so nothing is required at completion
    "progress_status": ("enum", False), "progress_done": ("text", False), "progress_open_issues": ("text", False),
    "progress_risk": ("boolean", False), "progress_risk_note": ("text", False),
}
TEMPLATE_4 = {  # 复盘表
    "retro_participants": ("departments", True), "retro_goal": ("text", True), "retro_result": ("text", True),
    "retro_highlights": ("text", True), "retro_problems": ("text", True), "retro_improvements": ("text", True),
}
LEAD = "${head(lead_dept)}"
ADMINS = ("candidateGroups", "platform_admins")

# element id -> (assignment attribute and value, fields: id -> (type, required))
USER_TASKS = {
    MAIN: {
        "dept_head_signoff": (("assignee", "${head(requester_dept)}"),
                              {"signoff_decision": ("enum", True), "signoff_comment": ("text", True)}),
        "revise_request": (("assignee", "${requester}"), TEMPLATE_1),
        "admin_review": (ADMINS, {"review_decision": ("enum", True), "review_comment": ("text", True)}),
        "dispatch_lead": (ADMINS, {"lead_dept": ("department", True), "pmo_owner": ("user", True)}),
        "lead_confirm": (("assignee", LEAD), {"lead_decision": ("enum", True), "objection": ("text", False)}),
        "collect_feedback": (("assignee", "${interface_person(feedback_dept)}"), TEMPLATE_2),
        "organise_coordination": (("assignee", LEAD), {"coordination_mode": ("enum", True),
                                                        "meeting_time": ("datetime", False)}),
        "send_meeting_notice": (("assignee", LEAD), {"meeting_agenda": ("text", True),
                                                      "meeting_attendees": ("users", True),
                                                      "meeting_place": ("string", True)}),
        "record_minutes": (("assignee", LEAD), {"meeting_minutes": ("text", True),
                                                 "meeting_conclusions": ("text", True)}),
        "write_plan": (("assignee", LEAD), {"plan_tasks": ("table", True), "risk_plan": ("text", True)}),
        "approve_plan": (("assignee", "${head(approval_dept)}"), {"approval_decision": ("enum", True),
                                                                   "approval_comment": ("text", True)}),
        "execute_task": (("assignee", "${plan_task['owner']}"), {
            **TEMPLATE_3, "work_outcome": ("enum", True), "deliverable_summary": ("text", True),
            "deliverable_files": ("files", False), "blocker_description": ("text", False),
            "blocker_parties": ("departments", False)}),
        "accept_deliverable": (("assignee", "${requester}"), {"acceptance_result": ("enum", True),
                                                               "acceptance_problem": ("text", False)}),
        "archive_request": (ADMINS, {"archive_note": ("text", True)}),
        "retrospective": (("assignee", LEAD), TEMPLATE_4),
        "rate_satisfaction": (("assignee", "${requester}"), {"satisfaction": ("long", True)}),
        "distill_lessons": (ADMINS, {"lesson_title": ("string", True), "lesson_body": ("text", True),
                                     "lesson_tags": ("string", False)}),
    },
    CONFLICT: {
        "classify_conflict": (ADMINS, {"conflict_type": ("enum", True), "conflict_meeting_time": ("datetime", True),
                                       "conflict_meeting_place": ("string", True),
                                       "conflict_meeting_agenda": ("text", True)}),
        "state_positions": (("assignee", "${head(party_dept)}"), {"position_statement": ("text", True),
                                                                   "position_demands": ("text", True)}),
        "propose_solution": (ADMINS, {"conflict_solution": ("text", True)}),
        "confirm_solution": (("assignee", "${head(confirm_dept)}"), {"confirm_decision": ("enum", True),
                                                                      "confirm_comment": ("text", True)}),
        "record_action_items": (ADMINS, {"action_items": ("table", True)}),
        "arbitrate": (("assignee", "${conflict_arbiter}"), {"arbitration_decision": ("text", True),
                                                             "action_items": ("table", True)}),
    },
}
OPTIONS = {
    ("request_submitted", "request_type"): ["项目协作", "资源申请", "问题协调", "流程优化", "故障投诉", "其他"],
    ("request_submitted", "priority"): ["高", "中", "低"],
    ("request_submitted", "urgency"): ["普通", "紧急", "特急"],
    ("dept_head_signoff", "signoff_decision"): ["同意", "退回"],
    ("admin_review", "review_decision"): ["通过", "退回补充", "拒绝"],
    ("lead_confirm", "lead_decision"): ["确认接收", "提出异议"],
    ("approve_plan", "approval_decision"): ["同意", "不同意", "需修改"],
    ("execute_task", "progress_status"): ["未开始", "进行中", "待支持", "已完成"],
    ("execute_task", "work_outcome"): ["提交成果", "需协调"],
    ("accept_deliverable", "acceptance_result"): ["验收通过", "退回修改"],
    ("classify_conflict", "conflict_type"): ["职责分歧", "资源冲突", "目标差异"],
    ("confirm_solution", "confirm_decision"): ["同意", "不同意"],
}
RECORDS = {  # element id -> record kind its template fields are posted as
    "request_submitted": ("request", TEMPLATE_1), "collect_feedback": ("feedback", TEMPLATE_2),
    "execute_task": ("progress_update", TEMPLATE_3), "retrospective": ("retrospective", TEMPLATE_4),
    "write_plan": ("plan", {"plan_tasks": 0, "risk_plan": 0}),
    "accept_deliverable": ("acceptance", {"acceptance_result": 0, "acceptance_problem": 0}),
    "rate_satisfaction": ("satisfaction", {"satisfaction": 0}),
    "distill_lessons": ("lesson", {"lesson_title": 0, "lesson_body": 0, "lesson_tags": 0}),
    "state_positions": ("conflict_position", {"position_statement": 0, "position_demands": 0}),
    "record_action_items": ("action_items", {"action_items": 0}),
}


def _form(node) -> dict:
    fields = {}
    for field_node in node.iterfind("bpmn:extensionElements/camunda:formData/camunda:formField", NS):
        fld, problems = field_from_xml(field_node, CAMUNDA)
        assert problems == [], problems
        fields[fld.id] = fld
    return fields


def _all_elements():
    for name in (MAIN, CONFLICT):
        yield name, _by_id(_root(name))


def test_every_user_task_has_an_assignment_and_a_form():
    for name, elements in _all_elements():
        tasks = {eid: n for eid, n in elements.items() if _local(n) == "userTask"}
        assert set(tasks) == set(USER_TASKS[name]), name
        for eid, node in tasks.items():
            values = [node.get(f"{{{CAMUNDA}}}{a}") for a in ("assignee", "candidateUsers", "candidateGroups")]
            assert any(v and v.strip() for v in values), eid
            (attribute, expected), _ = USER_TASKS[name][eid]
            assert node.get(f"{{{CAMUNDA}}}{attribute}") == expected, eid
            for value in [*values, node.get(f"{{{CAMUNDA}}}dueDate"), node.get(f"{{{CAMUNDA}}}priority")]:
                for expr in re.findall(r"\$\{(.*?)\}", value or ""):
                    assert check_source(expr, "eval") is None, (eid, expr)
            assert _form(node), f"user task {eid} has no form"


def test_forms_have_the_fields_of_their_templates():
    for name, elements in _all_elements():
        for eid, (_, expected) in USER_TASKS[name].items():
            fields = _form(elements[eid])
            for fid, (ftype, required) in expected.items():
                assert fid in fields, (eid, fid)
                assert (fields[fid].type, fields[fid].required) == (ftype, required), (eid, fid)
    start_form = _form(_by_id(_root(MAIN))["request_submitted"])
    assert {fid: (f.type, f.required) for fid, f in start_form.items()} == TEMPLATE_1
    conflict_start = _form(_by_id(_root(CONFLICT))["conflict_raised"])
    assert {"conflict_topic", "conflict_parties", "conflict_description"} <= set(conflict_start)
    assert conflict_start["conflict_parties"].type == "departments"


def test_enums_tables_and_limits():
    elements = {**_by_id(_root(MAIN)), **_by_id(_root(CONFLICT))}
    for (eid, fid), options in OPTIONS.items():
        assert [o[0] for o in _form(elements[eid])[fid].options] == options, (eid, fid)
    plan = _form(elements["write_plan"])["plan_tasks"]
    assert [(c.id, c.type, c.required) for c in plan.columns] == [
        ("title", "string", True), ("dept", "department", True), ("owner", "user", True),
        ("start", "date", True), ("end", "date", True), ("standard", "text", True)]
    for eid in ("record_action_items", "arbitrate"):
        actions = _form(elements[eid])["action_items"]
        assert [(c.id, c.type, c.required) for c in actions.columns] == [
            ("action", "text", True), ("owner", "user", True), ("deadline", "date", True)]
    satisfaction = _form(elements["rate_satisfaction"])["satisfaction"]
    assert (satisfaction.min, satisfaction.max) == (1, 5)
    for eid, (kind, fields) in RECORDS.items():
        form = _form(elements[eid])
        for fid in fields:
            assert form[fid].properties.get("record") == kind, (eid, fid)


# Record fields the process reads after their form is submitted, so they are task data too (data="true").
KEPT_IN_DATA = {
    MAIN: {"send_meeting_notice": {"meeting_agenda", "meeting_attendees", "meeting_place"},  # notify_attendees
           "write_plan": {"plan_tasks",  # the collection execute_plan_task runs over
                          "risk_plan"},  # shown read-only by approve_plan
           "execute_task": {"work_outcome",  # work_outcome_gw
                            "deliverable_summary", "deliverable_files"},  # shown read-only by accept_deliverable
           "accept_deliverable": {"acceptance_result",  # acceptance_gw
                                  "acceptance_problem"}},  # shown read-only by execute_task after a return
    CONFLICT: {"classify_conflict": {"conflict_meeting_time", "conflict_meeting_place"},  # the notice, due dates
               "state_positions": {"position_statement", "position_demands"},  # summarised for the proposal
               "record_action_items": {"action_items"}, "arbitrate": {"action_items"}},  # the caller's result
}
_READING = {"script", "postScript", "preScript", "conditionExpression", "timeDate", "timeDuration", "timeCycle",
            "loopDataInputRef"}


def _what_the_process_reads() -> tuple[str, set[str]]:
    """The expressions of both diagrams (scripts, conditions, timers, assignments, due dates,
    priorities, multi-instance collections) as one text, and the ids of the fields forms show read-only."""
    texts, shown = [], set()
    for name in (MAIN, CONFLICT):
        for node in _root(name).iter():
            if not isinstance(node.tag, str):
                continue
            if _local(node) in _READING:
                texts.append(node.text or "")
            elif _local(node) == "formField":
                fld, _ = field_from_xml(node, CAMUNDA)
                if fld.readonly:
                    shown.add(fld.id)
            texts.extend(node.get(f"{{{CAMUNDA}}}{a}") or "" for a in ("assignee", "candidateUsers",
                                                                     "candidateGroups", "dueDate", "priority"))
    return "\n".join(texts), shown


def test_record_fields_are_task_data_only_when_the_process_reads_them():
    texts, shown = _what_the_process_reads()
    for name, elements in _all_elements():
        kept: dict[str, set[str]] = {}
        for eid, node in elements.items():
            for fid, fld in (_form(node) if _local(node) in ("userTask", "startEvent") else {}).items():
                if fld.properties.get("record", "request") == "request" or fld.readonly:
                    continue  # the request's own fields are its start data; a read-only field is not submitted
                read = fid in shown or re.search(rf"\b{fid}\b", texts) is not None
                if fld.properties.get("data") == "true":
                    kept.setdefault(eid, set()).add(fid)
                    assert read, f"{eid}: {fid} is kept in the task data, but nothing reads it"
                else:
                    assert not read, f"{eid}: {fid} is read later, but is kept only as a record"
        assert kept == KEPT_IN_DATA[name], name


# element id -> the deadline it carries: a due date, or a timer (kind, expression, host, interrupting)
DUE_DATES = {
    "dept_head_signoff": "${response_due(urgency)}",
    "admin_review": "${response_due(urgency)}",  # 普通 3 working days, 紧急 24 h, 特急 4 h
    "lead_confirm": "PT24H",
    "collect_feedback": "${response_due(urgency)}",
    "send_meeting_notice": "${before(meeting_time, 'PT24H')}",
    "write_plan": "PT24H",
    "approve_plan": "PT48H",
    "execute_task": "${end_of_day(plan_task['end'])}",  # a plan date ends with its working day
    "retrospective": "${working_days(5)}",
    "confirm_solution": "P3D",
}
TIMERS = {
    "review_sla_timer": ("timeDate", "response_due(urgency)", "admin_review", False),
    "lead_confirm_timer": ("timeDuration", '"PT24H"', "lead_confirm", False),
    "feedback_sla_timer": ("timeDate", "response_due(urgency)", "collect_feedback", False),
    "notice_deadline_timer": ("timeDate", "before(meeting_time, 'PT24H')", "send_meeting_notice", True),
    "meeting_starts": ("timeDate", "before(meeting_time, 'PT0S')", None, None),
    "plan_timer": ("timeDuration", '"PT24H"', "write_plan", False),
    "approval_timer": ("timeDuration", '"PT48H"', "approve_plan", False),
    "reminder_3d_timer": ("timeDate", "before(plan_task['end'], 'P3D')", "execute_task", False),
    "reminder_1d_timer": ("timeDate", "before(plan_task['end'], 'P1D')", "execute_task", False),
    "no_progress_timer": ("timeCycle", '"R/PT24H"', "execute_task", False),
    "weekly_review_timer": ("timeCycle", '"R/P7D"', "execute_plan_task", False),
    "retro_timer": ("timeDate", "working_days(5)", "retrospective", False),
    "confirm_deadline_timer": ("timeDuration", '"P3D"', "confirm_solution", True),
}


def test_every_deadline_is_a_due_date_or_a_timer():
    elements = {**_by_id(_root(MAIN)), **_by_id(_root(CONFLICT))}
    for eid, due in DUE_DATES.items():
        assert elements[eid].get(f"{{{CAMUNDA}}}dueDate") == due, eid
    for eid, (kind, expression, host, interrupting) in TIMERS.items():
        node = elements[eid]
        definition = node.find(f"bpmn:timerEventDefinition/bpmn:{kind}", NS)
        assert definition is not None and definition.text == expression, eid
        if host is not None:
            assert (_local(node), node.get("attachedToRef")) == ("boundaryEvent", host), eid
            assert (node.get("cancelActivity", "true") == "true") is interrupting, eid
    timers = {eid for eid, n in elements.items() if n.find("bpmn:timerEventDefinition", NS) is not None}
    assert timers == set(TIMERS)


def test_reminders_reach_the_people_product_names():
    elements = _by_id(_root(MAIN))

    def after(timer: str) -> str:
        flow = _root(MAIN).find(f".//bpmn:sequenceFlow[@sourceRef='{timer}']", NS)
        return elements[flow.get("targetRef")].findtext("bpmn:script", namespaces=NS)

    assert "notify(plan_task['owner'], 'reminder'" in after("reminder_3d_timer")
    assert "[head(lead_dept), pmo_owner]" in after("reminder_1d_timer")
    assert "[plan_task['owner'], superior(plan_task['owner'])]" in after("no_progress_timer")
    assert "'urge'" in after("no_progress_timer")
    assert after("no_progress_timer").startswith("if hours_since_progress(plan_task) >= 24:\n")  # not after progress
    for timer in ("lead_confirm_timer", "feedback_sla_timer", "plan_timer", "approval_timer", "retro_timer"):
        assert "notify(pmo_owner, 'escalation'" in after(timer), timer
    # before dispatch no admin owns the request yet: a late review goes to every platform admin
    assert "notify(members('platform_admins'), 'escalation'" in after("review_sla_timer")
    assert "notify(waiting_on('collect_feedback'), 'urge'" in after("feedback_sla_timer")


# element id -> (input collection, item variable, output collection)
MULTI_INSTANCE = {
    MAIN: {"collect_feedback": ("involved_depts", "feedback_dept", "dept_feedbacks"),
           "approve_plan": ("approval_depts", "approval_dept", "plan_approvals"),
           "execute_plan_task": ("plan_tasks", "plan_task", "task_results")},
    CONFLICT: {"state_positions": ("conflict_parties", "party_dept", "conflict_positions"),
               "confirm_solution": ("conflict_parties", "confirm_dept", "conflict_confirmations")},
}


def test_parallel_work_is_multi_instance_over_the_right_lists():
    for name, expected in MULTI_INSTANCE.items():
        elements = _by_id(_root(name))
        found = {n.getparent().get("id") for n in _root(name).iterfind(".//bpmn:multiInstanceLoopCharacteristics",
                                                                         NS)}
        assert found == set(expected), name
        for eid, (collection, item, output) in expected.items():
            mi = elements[eid].find("bpmn:multiInstanceLoopCharacteristics", NS)
            assert mi.get("isSequential", "false") == "false", eid
            assert mi.findtext("bpmn:loopDataInputRef", namespaces=NS) == collection
            assert mi.find("bpmn:inputDataItem", NS).get("id") == item
            assert mi.findtext("bpmn:loopDataOutputRef", namespaces=NS) == output
            # references resolve within the file, so modellers keep them when saving
            assert _local(elements[collection]) == _local(elements[output]) == "property"
    prepare = _by_id(_root(MAIN))["prepare_approval"].findtext("bpmn:script", namespaces=NS)
    assert "approval_depts = [d for d in involved_depts if d != lead_dept]" in prepare
    assert "plan_approvals = []" in prepare


def _graph(name):
    return _flow_graph(_root(name).find("bpmn:process", NS))


def _condition(name, source, target) -> str | None:
    flow = _root(name).find(f".//bpmn:sequenceFlow[@sourceRef='{source}'][@targetRef='{target}']", NS)
    assert flow is not None, (source, target)
    return flow.findtext("bpmn:conditionExpression", namespaces=NS)


def test_every_branch_of_the_product_is_a_path():
    g = _graph(MAIN)
    paths = [
        ("request_submitted", "dept_head_signoff"), ("signoff_gw", "revise_request"),
        ("revise_request", "dept_head_signoff"), ("review_gw", "revise_request"),
        ("review_gw", "request_rejected"), ("lead_confirm_gw", "dispatch_lead"),
        ("lead_confirm", "collect_feedback"), ("meeting_gw", "send_meeting_notice"), ("meeting_gw", "write_plan"),
        ("notice_deadline_timer", "organise_coordination"), ("meeting_starts", "record_minutes"),
        ("record_minutes", "write_plan"), ("approval_gw", "plan_conflict"), ("plan_conflict", "write_plan"),
        ("approval_gw", "write_plan"), ("approval_gw", "execute_plan_task"),
        ("work_outcome_gw", "blocker_conflict"), ("blocker_conflict", "execute_task"),
        ("work_outcome_gw", "accept_deliverable"), ("acceptance_gw", "execute_task"),
        ("execute_plan_task", "archive_request"), ("archive_request", "rate_satisfaction"),
        ("archive_request", "retrospective"), ("retrospective", "distill_lessons"),
        ("rate_satisfaction", "distill_lessons"), ("distill_lessons", "request_closed"),
    ]
    for source, target in paths:
        assert _reaches(g, source, target), (source, target)
    assert not _reaches(g, "request_rejected", "dispatch_lead")
    assert _condition(MAIN, "signoff_gw", "revise_merge") == "signoff_decision == '退回'"
    assert _condition(MAIN, "review_gw", "notify_rejected") == "review_decision == '拒绝'"
    assert _condition(MAIN, "approval_gw", "prepare_plan_conflict") == "len(plan_disagreeing) > 0"
    assert _condition(MAIN, "work_outcome_gw", "prepare_blocker_conflict") == "work_outcome == '需协调'"
    assert _condition(MAIN, "acceptance_gw", "work_merge") == "acceptance_result == '退回修改'"
    c = _graph(CONFLICT)
    for source, target in [("conflict_raised", "classify_conflict"), ("classify_conflict", "state_positions"),
                           ("state_positions", "propose_solution"), ("propose_solution", "confirm_solution"),
                           ("consensus_gw", "conflict_settled"), ("consensus_gw", "arbitrate"),
                           ("confirm_deadline_timer", "arbitrate"), ("arbitrate", "conflict_arbitrated")]:
        assert _reaches(c, source, target), (source, target)
    assert _condition(CONFLICT, "consensus_gw", "record_action_items") == "len(conflict_dissenters) == 0"
    names = {eid: n.get("name") for eid, n in _by_id(_root(MAIN)).items() if _local(n) == "endEvent"}
    assert names["request_rejected"] == "已拒绝"


def test_every_deciding_gateway_has_a_default_flow():
    for name in (MAIN, CONFLICT):
        root = _root(name)
        for gateway in root.iterfind(".//bpmn:exclusiveGateway", NS):
            outgoing = root.xpath(".//bpmn:sequenceFlow[@sourceRef=$r]", r=gateway.get("id"), namespaces=NS)
            if len(outgoing) > 1:
                assert gateway.get("default") in {f.get("id") for f in outgoing}, gateway.get("id")
                conditions = [f for f in outgoing if f.get("id") != gateway.get("default")]
                assert all(f.find("bpmn:conditionExpression", NS) is not None for f in conditions)


def test_callers_prepare_the_conflict_subprocess_and_it_reports_its_outcome():
    main = _by_id(_root(MAIN))
    for call, prepare, source in (("plan_conflict", "prepare_plan_conflict", "plan_approval"),
                                  ("blocker_conflict", "prepare_blocker_conflict", "execution_blocker")):
        assert main[call].get("calledElement") == "conflict_resolution"
        assert _reaches(_graph(MAIN), prepare, call)
        script = main[prepare].findtext("bpmn:script", namespaces=NS)
        for variable in ("conflict_parties = ", "conflict_topic = ", f"conflict_source = '{source}'"):
            assert variable in script, (prepare, variable)
    conflict = _by_id(_root(CONFLICT))
    assert "conflict_source = 'request'" in conflict["init_conflict"].findtext("bpmn:script", namespaces=NS)
    for end, script, outcome in (("conflict_settled", "announce_consensus", "consensus"),
                                 ("conflict_arbitrated", "announce_arbitration", "arbitrated")):
        flow = _root(CONFLICT).find(f".//bpmn:sequenceFlow[@targetRef='{end}']", NS)
        assert flow.get("sourceRef") == script
        assert f"conflict_outcome = '{outcome}'" in conflict[script].findtext("bpmn:script", namespaces=NS)
    assert "common_superior(" in conflict["escalate_to_superior"].findtext("bpmn:script", namespaces=NS)
