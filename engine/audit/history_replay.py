"""The audit area's replay of a request, step by step: the task tree, the diagrams and the active and
taken elements after each recorded step, the data and who acted; engine.audit.replay is the check
that re-executes the record."""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass

from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.util.task import TaskState

from engine.audit.history import ENGINE_EVENTS, FormValues, as_text, category
from engine.bpmn.safe_xml import parse_bpmn_bytes
from engine.context import Services
from engine.db.tx import Tx
from engine.org.directory import directory
from engine.requests.diagram import BPMN
from engine.requests.record_access import VIEWED, note_read
from engine.requests.request_view import Names
from engine.workflow.elements import VersionSpecs, version_specs

# --- replay ---------------------------------------------------------------------------------------

_ENDED = TaskState.COMPLETED | TaskState.CANCELLED | TaskState.ERROR


@dataclass
class _Node:
    """A task of the stored tree with an element of a diagram."""

    task_id: str
    element: str
    scope: str
    state: int
    changed: float  # wall-clock time of its last state change
    reached: float  # wall-clock time it was reached (see _reached)
    source: str | None  # element of its nearest ancestor in the same workflow with one
    attached: bool
    human: bool
    multi: bool  # a multi-instance task: its instances are counted, not it
    data: dict | None  # a completed user task's data as it left it
    start: int = 0  # the step it was reached in
    end: int | None = None  # the step it completed, was cancelled or failed in


def _tree(wf) -> tuple[dict[str, dict], list[_Node]]:
    """Scopes (the top workflow and each called process's run) and the tree's nodes."""
    scopes = {"main": {"process_id": wf.spec.name, "parent": None, "element_id": None, "task_id": None}}
    scope_of = {id(wf): "main"}
    for sub in sorted(wf.subprocesses.values(), key=lambda s: s.depth):
        caller = wf.get_task_from_id(sub.parent_task_id)
        sid = scope_of.get(id(caller.workflow), "main")
        if isinstance(caller.task_spec, CallActivity):
            sid = str(caller.id)
            scopes[sid] = {"process_id": sub.spec.name, "parent": scope_of.get(id(caller.workflow), "main"),
                           "element_id": caller.task_spec.bpmn_id, "task_id": sid}
        scope_of[id(sub)] = sid
    nodes = []
    for each in wf.all_workflows():
        for task in each.tasks.values():
            element = getattr(task.task_spec, "bpmn_id", None)
            if not element or task.state & (TaskState.MAYBE | TaskState.LIKELY | TaskState.FUTURE):
                continue
            parent = task.parent
            if task.state == TaskState.CANCELLED and (parent is None or parent.state != TaskState.COMPLETED):
                continue  # predicted, never reached
            source = parent
            while source is not None and not getattr(source.task_spec, "bpmn_id", None):
                source = source.parent
            human = isinstance(task.task_spec, UserTask)
            nodes.append(_Node(
                str(task.id), element, scope_of.get(id(each), "main"), task.state, task.last_state_change,
                _reached(task),
                source.task_spec.bpmn_id if source is not None else None, isinstance(task.task_spec, BoundaryEvent),
                human, isinstance(task.task_spec, MultiInstanceTask), json.loads(json.dumps(task.data, default=str))
                if human and task.state == TaskState.COMPLETED else None))
    return scopes, nodes


def _reached(task) -> float:
    """When a task was reached: when its parent completed; when the parent changed after the task
    (a multi-instance or subprocess task, finished after its children), when the parent was reached."""
    parent = task.parent
    while parent is not None and parent.last_state_change > task.last_state_change:
        task, parent = parent, parent.parent
    return parent.last_state_change if parent is not None else 0.0


def _diagrams(tx: Tx, version_id: int, process_ids: set[str]) -> dict[str, dict]:
    """BPMN XML, sequence flows and shape names of the version's process and the processes it calls,
    from the files of the version's deployment."""
    filename, xml, deployment_id, main = tx.one(
        "SELECT s.filename, s.content, v.deployment_id, v.process_id FROM process_version v JOIN bpmn_source s "
        "ON s.sha256 = v.source_sha256 WHERE v.id = ?", (version_id,))
    files = [(filename, xml)]
    if process_ids - {main}:
        listed = json.loads(tx.one("SELECT files FROM deployment WHERE id = ?", (deployment_id,))[0])
        files += [tx.one("SELECT filename, content FROM bpmn_source WHERE sha256 = ?", (f["sha256"],))
                  for f in listed]
    found = {}
    for name, content in files:
        root = parse_bpmn_bytes(content.encode("utf-8"), name)
        flows = {}
        for el in root.iter(f"{{{BPMN}}}sequenceFlow"):
            flows.setdefault((el.get("sourceRef"), el.get("targetRef")), []).append(el.get("id"))
        for process in root.iter(f"{{{BPMN}}}process"):
            pid = process.get("id")
            if pid in process_ids and pid not in found:
                found[pid] = {"process_id": pid, "name": process.get("name") or pid, "xml": content, "flows": flows}
    return found


def _steps(events: list[tuple]) -> list[dict]:
    """Events grouped into steps: an action and the engine's answer recorded with it."""
    steps: list[dict] = []
    for seq, kind, actor, at, element, task, data in events:
        if kind == VIEWED:
            continue
        event = {"seq": seq, "type": kind, "actor": actor, "at": Tx.when(at), "element_id": element,
                 "task_id": task, "data": json.loads(data)}
        last = steps[-1] if steps else None
        if last and (kind in ENGINE_EVENTS or (
                task and task == last["task_id"] and last["type"] == "task_completed" and category(kind) == "record")):
            last["events"].append(event)
        else:
            steps.append({**event, "events": []})
    return steps


def replay(ctx: Services, instance_id: str, reader: str | None = None) -> dict:
    """The request's diagrams (of the version it ran on), scopes and steps with the state after each;
    an auditor's read (`reader`) is logged on the request's chain."""
    with ctx.db.transaction(write=False) as tx:
        row = ctx.store.row(tx, str(instance_id))
        specs = version_specs(ctx, tx, row.process_version_id)
        events = tx.all("SELECT seq, event_type, actor, at, element_id, task_id, data FROM audit_event "
                        "WHERE instance_id = ? ORDER BY seq", (row.id,))
        wf = ctx.store.load(tx, row, ctx.script_engine)
        try:
            scopes, nodes = _tree(wf)
        finally:  # read only: the next command on the instance may use it
            ctx.store.remember(row.id, row.lock_version, wf)
        diagrams = _diagrams(tx, row.process_version_id, {s["process_id"] for s in scopes.values()})
    steps = _steps(events)
    by_task = {n.task_id: n for n in nodes}
    step_at = _clock(steps, by_task)
    for node in nodes:
        node.start = step_at(node.reached)
        node.end = step_at(node.changed) if node.state & _ENDED else None
    _label_runs(scopes, nodes, specs)
    names = Names(directory(ctx))
    values = FormValues(specs)
    open_tasks: dict[str, dict] = {}
    out = []
    for n, step in enumerate(steps):
        for event in (step, *step["events"]):
            _follow(open_tasks, event, by_task, scopes, specs, names)
        node = by_task.get(step["task_id"] or "")
        inputs = values.changes(step["type"], step["actor"], step["element_id"], step["data"])
        for change in inputs:
            change["before_text"], change["after_text"] = as_text(change["before"], names), as_text(change["after"],
                                                                                                      names)
        out.append({
            "n": n, "seq": (step["events"] or [step])[-1]["seq"], "first_seq": step["seq"], "type": step["type"],
            "category": category(step["type"]), "actor": step["actor"],
            "actor_name": None if step["actor"] == "system" else names.user(step["actor"]),
            "on_behalf_of": step["data"].get("on_behalf_of"), "at": step["at"].isoformat(),
            "element_id": step["element_id"], "element_name": specs.names.get(step["element_id"] or "",
                                                                              step["element_id"]),
            "task_id": step["task_id"], "scope": _scope_of(step, by_task, scopes, specs),
            "events": [{k: e[k] for k in ("seq", "type", "element_id", "task_id")}
                       | {"element_name": specs.names.get(e["element_id"] or "", e["element_id"])}
                       for e in step["events"]],
            "inputs": inputs, "data": (node.data if node is not None and step["type"] == "task_completed"
                                       else step["data"].get("data") if step["type"] == "instance_started" else None),
            "open": [dict(t) for t in open_tasks.values()],
            "scopes": _state(n, nodes, scopes, diagrams, open_tasks)})
    note_read(ctx, row.id, reader, "replay")
    return {"instance_id": row.id, "request_no": row.business_key, "status": row.status,
            "process_id": row.process_id, "version": row.process_version, "scopes": scopes,
            "labels": {name: label for each in reversed(list(specs.labels.values())) for name, label in each.items()},
            "columns": specs.columns,
            "diagrams": {pid: {"name": d["name"], "xml": d["xml"]} for pid, d in diagrams.items()}, "steps": out}


def replay_states(ctx: Services, instance_id: str) -> list[dict]:
    """The request's steps, each with the state after it (see replay)."""
    return replay(ctx, instance_id)["steps"]


def _clock(steps: list[dict], by_task: dict[str, _Node]):
    """step_at(wall-clock time): the index of the last step that ran before that moment."""
    marks: list[tuple[float, int]] = []
    for i, step in enumerate(steps):
        times = []
        for event in (step, *step["events"]):
            node = by_task.get(event["task_id"] or "")
            if node is None:
                continue
            if (event["type"] in ("task_completed", "timer_fired") and node.state == TaskState.COMPLETED
                    or event["type"] == "task_cancelled" and node.state == TaskState.CANCELLED
                    or event["type"] == "task_ready" and node.state == TaskState.READY):
                times.append(node.changed)
        if times:
            marks.append((min(times), i))
    times, owners = [], []
    for moment, i in marks:  # a mark out of order (a clock set back) is left out
        if not times or moment > times[-1]:
            times.append(moment)
            owners.append(i)

    def step_at(moment: float) -> int:
        found = bisect.bisect_right(times, moment) - 1
        return owners[found] if found >= 0 else 0

    return step_at


def _label_runs(scopes: dict, nodes: list[_Node], specs: VersionSpecs) -> None:
    """Each called process's run: its call's step and its number among the runs of that call element."""
    starts = {n.task_id: n.start for n in nodes}
    runs: dict[str, int] = {}
    for sid in sorted((s for s in scopes if s != "main"), key=lambda s: starts.get(s, 0)):
        scope = scopes[sid]
        runs[scope["element_id"]] = runs.get(scope["element_id"], 0) + 1
        scope.update(run=runs[scope["element_id"]], start=starts.get(sid, 0),
                     name=specs.names.get(scope["element_id"], scope["element_id"]))
    scopes["main"].update(run=1, start=0, name=None)


def _scope_of(event: dict, by_task: dict[str, _Node], scopes: dict, specs: VersionSpecs) -> str:
    node = by_task.get(event["task_id"] or "")
    if node is not None:
        return node.scope
    # A task no longer in the tree: the latest run of the process holding its element.
    pid = specs.process_of.get(event["element_id"] or "")
    runs = [s for s, v in scopes.items() if s != "main" and v["process_id"] == pid]
    return max(runs, key=lambda s: scopes[s]["start"]) if runs else "main"


def _follow(open_tasks: dict, event: dict, by_task, scopes, specs: VersionSpecs, names: Names) -> None:
    """Apply one event to the open tasks: made ready, claimed, handed over, completed or cancelled."""
    kind, task, data = event["type"], event["task_id"], event["data"]
    if kind == "task_ready":
        open_tasks[task] = {
            "task_id": task, "element_id": event["element_id"], "scope": _scope_of(event, by_task, scopes, specs),
            "name": specs.names.get(event["element_id"], event["element_id"]), "assignee": data.get("assignee"),
            "candidate_users": data.get("candidate_users") or [],
            "candidate_groups": data.get("candidate_groups") or [],
            "due_at": data.get("due_at"), "ready_at": event["at"].isoformat(), "delegated_by": None}
    elif kind in ("task_completed", "task_cancelled"):
        open_tasks.pop(task, None)
    elif task in open_tasks:
        held = open_tasks[task]
        if kind == "task_claimed":
            held["assignee"] = event["actor"]
        elif kind == "task_released":
            held["assignee"] = None
        elif isinstance(data.get("after"), dict):
            held.update({k: data["after"].get(k) for k in ("assignee", "delegated_by")})
    for held in open_tasks.values():
        held["assignee_name"] = names.user(held["assignee"]) if held["assignee"] else None


def _state(n: int, nodes: list[_Node], scopes: dict, diagrams: dict, open_tasks: dict) -> dict:
    """Per scope reached by step n: elements passed (how often), flows taken, active and failed elements."""
    found = {sid: {"completed": {}, "flows": set(), "active": set(), "errored": set()}
             for sid, scope in scopes.items() if scope["start"] <= n}
    for node in nodes:
        state = found.get(node.scope)
        if state is None or node.start > n:
            continue
        ended = node.end is not None and node.end <= n
        if ended and node.state == TaskState.COMPLETED:
            state["completed"][node.element] = state["completed"].get(node.element, 0) + (not node.multi)
        elif ended and node.state == TaskState.ERROR:
            state["errored"].add(node.element)
        elif not ended and not node.attached and not node.human:
            state["active"].add(node.element)
        flows = diagrams.get(scopes[node.scope]["process_id"], {}).get("flows", {})
        state["flows"].update(flows.get((node.source, node.element), ()))
    for held in open_tasks.values():
        if held["scope"] in found:
            found[held["scope"]]["active"].add(held["element_id"])
    return {sid: {"completed": s["completed"], "flows": sorted(s["flows"]), "active": sorted(s["active"]),
                  "errored": sorted(s["errored"])} for sid, s in found.items()}
