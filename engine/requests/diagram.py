"""A request's diagram as its page draws it: the BPMN XML of its process version and where the
instance is (active, completed, errored elements and the flows taken)."""

from __future__ import annotations

import json
from functools import lru_cache

from lxml import etree
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.safe_xml import parse_bpmn_bytes
from engine.context import Services
from engine.db.tx import Tx
from engine.errors import NotFound

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
# BPMN elements with an id that are no shape a path can pass through.
_NOT_NODES = {"definitions", "collaboration", "participant", "process", "laneSet", "lane", "property",
              "dataObject", "ioSpecification", "dataInput", "dataOutput", "inputSet", "outputSet",
              "documentation", "message", "signal", "error", "escalation"}
_PASSED = TaskState.COMPLETED | TaskState.READY | TaskState.STARTED | TaskState.WAITING | TaskState.ERROR
# Events whose element the instance passed (subprocess tasks leave the stored workflow when it ends).
_DONE_EVENTS = ("task_completed", "timer_fired", "instance_completed")


def _elements(root) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """Shapes (id -> name) and sequence flows (id -> (source, target)) of a BPMN file."""
    nodes, flows = {}, {}
    for el in root.iter(f"{{{BPMN}}}*"):
        kind, ident = etree.QName(el).localname, el.get("id")
        if not ident:
            continue
        if kind == "sequenceFlow":
            flows[ident] = (el.get("sourceRef"), el.get("targetRef"))
        elif kind not in _NOT_NODES and not kind.endswith("EventDefinition"):
            nodes[ident] = el.get("name") or ident
    return nodes, flows


def version_source(tx: Tx, version_id: int) -> tuple[str, str]:
    """(file name, BPMN XML) of a process version."""
    found = tx.one("SELECT s.filename, s.content FROM process_version v JOIN bpmn_source s "
                   "ON s.sha256 = v.source_sha256 WHERE v.id = ?", (version_id,))
    if found is None:
        raise NotFound("version.no_source", version=version_id)
    return found


def _walk(wf, nodes: dict[str, str]) -> list[tuple[str, int, bool, str | None]]:
    """(element, state, is an attached event, element of the nearest ancestor) of every task of the
    diagram's elements, in every workflow of the instance (a called process's are not its shapes)."""
    out = []
    for each in wf.all_workflows():
        for task in each.tasks.values():
            bpmn_id = getattr(task.task_spec, "bpmn_id", None)
            if bpmn_id not in nodes:
                continue
            parent = task.parent
            while parent is not None and getattr(parent.task_spec, "bpmn_id", None) not in nodes:
                parent = parent.parent
            out.append((bpmn_id, task.state, isinstance(task.task_spec, BoundaryEvent),
                        parent.task_spec.bpmn_id if parent is not None else None))
    return out


def diagram(ctx: Services, instance_id: str) -> dict:
    """The BPMN XML of the request's process version and, by element id, where the instance is:
    `active` (open tasks, waiting events, running subprocesses), `completed` (elements passed and
    sequence flows taken) and `errored`."""
    with ctx.db.transaction(write=False) as tx:
        row = ctx.store.row(tx, str(instance_id))
        filename, xml = version_source(tx, row.process_version_id)
        nodes, flows = _elements(parse_bpmn_bytes(xml.encode("utf-8"), filename))
        marks = tx.in_list(_DONE_EVENTS)
        events = tx.all(f"SELECT event_type, element_id, data FROM audit_event WHERE instance_id = ? "
                        f"AND event_type IN ({marks})", (row.id, *_DONE_EVENTS))
        wf = ctx.store.load(tx, row, ctx.script_engine)
        try:
            tasks = _walk(wf, nodes)
        finally:  # read only: the next command on the instance may use it
            ctx.store.remember(row.id, row.lock_version, wf)
    active, done, errored, pairs, stored = set(), set(), set(), set(), set()
    for bpmn_id, state, attached, parent in tasks:
        if not state & _PASSED:
            continue
        stored.add(bpmn_id)
        if state == TaskState.COMPLETED:
            done.add(bpmn_id)
        elif state == TaskState.ERROR:
            errored.add(bpmn_id)
        elif not attached:  # an attached timer waits beside every task it guards
            active.add(bpmn_id)
        if parent is not None and parent != bpmn_id:
            pairs.add((parent, bpmn_id))
    for event_type, element_id, data in events:
        end = json.loads(data).get("end_event") if event_type == "instance_completed" else None
        done.update(e for e in (element_id, end) if e in nodes)
    reached = done | active | errored
    # A flow was taken when the task tree says so; between elements the stored workflow no longer
    # holds (those of a finished subprocess), when both its ends were reached.
    taken = {fid for fid, (src, tgt) in flows.items() if (src, tgt) in pairs or (
        src in reached and tgt in reached and not (src in stored and tgt in stored))}
    return {"instance_id": row.id, "process_id": row.process_id, "version": row.process_version, "xml": xml,
            "active": sorted(active), "completed": sorted(done | taken), "errored": sorted(errored)}


@lru_cache(maxsize=32)
def shapes_of(filename: str, xml: str) -> dict[str, str]:
    return _elements(parse_bpmn_bytes(xml.encode("utf-8"), filename))[0]
