"""What auditors read of a request: its history, exports of it, its replay step by step, its
verification state, and the log of their own views.

History: every event of the instance's audit chain in order, with its category (user operation,
engine step, timer, record of the request, auditor's view), who acted (by name), when, the element
(by its name in the diagram) and the data it changed: an operation's holder before and after, and
a form's submitted values against the previous values of the same fields (for a multi-instance
task, those the same person submitted in an earlier round). The request's notifications (the
outbox, not chained) stand after the events written before them.

Replay: the instance's steps, each an action (filing, completing, a timer, a claim, a record, ...)
with what the engine recorded in response in the same command (tasks made ready or cancelled, the
end), and the state after each. Open tasks and their holders come from the events. Elements the
chain does not record (gateways, scripts, catch events, subprocesses) come from the stored task
tree: each task keeps the wall-clock time of its last state change, the tasks a step completed,
cancelled or made ready say when that step ran, and any other task belongs to the last step run
before its change. A called process (the conflict subprocess) is a scope of its own with its own
diagram, once per call.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.util.task import TaskState

from engine.bootstrap import Services
from engine.bpmn.safe_xml import parse_bpmn_bytes
from engine.db.tx import Tx
from engine.errors import InvalidInput, NotFound
from engine.services import audit
from engine.services.inbox import Page
from engine.services.org import directory
from engine.services.request_view import BPMN, STATUSES, Names, RequestFilter, list_requests

VIEWED = "request_viewed"
NOTIFIED = "notification_sent"  # a notification of the outbox, shown among the events
USER_EVENTS = frozenset({
    "instance_started", "task_completed", "task_claimed", "task_released", "task_transferred", "task_delegated",
    "delegation_resolved", "task_copied", "task_urged", "request_withdrawn", "instance_cancelled",
    "instance_retried"})
ENGINE_EVENTS = frozenset({"task_ready", "task_cancelled", "assignment_fallback", "instance_completed",
                           "instance_errored"})
# Filters by type: a category, `data` (events that changed data), or an event type itself.
CATEGORIES = ("user", "engine", "timer", "notification", "record", "view")
TYPES = (*CATEGORIES, "data")
FORMATS = {"csv": "text/csv; charset=utf-8", "json": "application/json",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
COLUMNS = ("seq", "at", "category", "type", "actor", "actor_name", "element_id", "element_name", "task_id",
           "changes", "data")
_FORMS = ("instance_started", "task_completed", "instance_retried")  # events carrying submitted values


def category(event_type: str) -> str:
    """The category of an event type (see CATEGORIES); anything else is a record of the request."""
    if event_type in USER_EVENTS:
        return "user"
    if event_type in ENGINE_EVENTS:
        return "engine"
    return {"timer_fired": "timer", NOTIFIED: "notification", VIEWED: "view"}.get(event_type, "record")


# --- what the version's specs say about its elements ---------------------------------------------

@dataclass
class _Specs:
    names: dict[str, str] = field(default_factory=dict)  # element id -> name
    labels: dict[str, dict[str, str]] = field(default_factory=dict)  # element ("" = start form) -> field -> label
    multi: set[str] = field(default_factory=set)  # multi-instance elements
    process_of: dict[str, str] = field(default_factory=dict)  # element id -> process id holding it


def _specs(ctx: Services, tx: Tx, version_id: int) -> _Specs:
    spec, subs = ctx.store.specs.get(tx, version_id)
    found = _Specs()
    for pid, each in ((spec.name, spec), *subs.items()):
        for ts in each.task_specs.values():
            bpmn_id = getattr(ts, "bpmn_id", None)
            if not bpmn_id:
                continue
            found.process_of.setdefault(bpmn_id, pid)
            if getattr(ts, "bpmn_name", None):
                found.names.setdefault(bpmn_id, ts.bpmn_name)
            form = getattr(ts, "form", None)
            if form is not None and getattr(form, "fields", None):
                found.labels.setdefault(bpmn_id, {}).update({f.id: f.label for f in form.fields})
            if isinstance(ts, MultiInstanceTask):
                found.multi.add(bpmn_id)
    found.labels[""] = {f.id: f.label for f in ctx.store.specs.start_form(tx, version_id).fields}
    return found


# --- history ---------------------------------------------------------------------------------------

@dataclass
class HistoryFilter:
    """What the history is narrowed to: a type (TYPES or an event type), an actor, a time span."""

    type: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def check(self) -> HistoryFilter:
        for moment in (self.since, self.until):
            if moment is not None and moment.tzinfo is None:
                raise InvalidInput("since and until need a time zone")
        if self.type and not (self.type in TYPES or self.type.replace("_", "").isalpha()):
            raise InvalidInput(f"unknown type '{self.type}' (known: {', '.join(TYPES)} or an event type)")
        return self

    def keeps(self, row: dict) -> bool:
        if self.type and self.type not in (row["category"], row["type"]) and not (
                self.type == "data" and any(c["changed"] for c in row["changes"])):
            return False
        if self.actor and row["actor"] != self.actor:
            return False
        return not ((self.since and row["at"] < self.since) or (self.until and row["at"] > self.until))

    def to_dict(self) -> dict:
        return {"type": self.type, "actor": self.actor, "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None}


class _Values:
    """The latest submitted value of each field, to set a new submission against."""

    def __init__(self, specs: _Specs):
        self.specs = specs
        self.seen: dict[tuple, object] = {}

    def changes(self, kind: str, actor: str, element: str | None, data: dict) -> list[dict]:
        if kind in _FORMS:
            who = (data.get("on_behalf_of") or actor) if element in self.specs.multi else None
            labels = self.specs.labels.get(element or "", {})
            out = []
            for name, after in (data.get("data") or {}).items():
                before = self.seen.get((who, name))
                out.append({"field": name, "label": labels.get(name), "before": before, "after": after,
                            "changed": before != after})
                self.seen[(who, name)] = self.seen[(None, name)] = after
            return out
        before, after = data.get("before"), data.get("after")
        if isinstance(before, dict) and isinstance(after, dict):
            return [{"field": k, "label": None, "before": before.get(k), "after": after.get(k), "changed": True}
                    for k in dict.fromkeys([*before, *after]) if before.get(k) != after.get(k)]
        return []


def _load_history(ctx: Services, instance_id: str) -> tuple[dict, list[dict]]:
    """The instance's head facts and every event (notifications placed among them), unfiltered."""
    with ctx.db.transaction(write=False) as tx:
        found = tx.one("SELECT process_version_id, business_key, status FROM process_instance WHERE id = ?",
                       (str(instance_id),))
        if found is None:
            raise NotFound(f"instance {instance_id} does not exist")
        specs = _specs(ctx, tx, found[0])
        events = tx.all("SELECT seq, event_type, actor, at, element_id, task_id, data FROM audit_event "
                        "WHERE instance_id = ? ORDER BY seq", (str(instance_id),))
        notes = tx.all("SELECT id, task_id, recipient, kind, message, created_at FROM notification "
                       "WHERE instance_id = ? ORDER BY created_at, id", (str(instance_id),))
    names = Names(directory(ctx))
    values = _Values(specs)
    elements: dict[str, str | None] = {}
    rows: list[dict] = []
    pending = [(Tx.when(at), nid, task, who, kind, message) for nid, task, who, kind, message, at in notes]

    def note_rows(until: datetime | None):
        while pending and (until is None or pending[0][0] < until):
            at, nid, task, who, kind, message = pending.pop(0)
            element = elements.get(task or "")
            rows.append(_row(None, NOTIFIED, "system", at, element, task, {
                "id": nid, "recipient": who, "recipient_name": names.user(who), "kind": kind, "message": message},
                [], names, specs))

    for seq, kind, actor, at, element, task, data in events:
        at = Tx.when(at)
        note_rows(at)
        if task:
            elements.setdefault(task, element)
        data = json.loads(data)
        rows.append(_row(seq, kind, actor, at, element, task, data, values.changes(kind, actor, element, data),
                         names, specs))
    note_rows(None)
    return {"instance_id": str(instance_id), "request_no": found[1], "status": found[2]}, rows


def _row(seq, kind, actor, at, element, task, data, changes, names: Names, specs: _Specs) -> dict:
    for change in changes:
        change["before_text"] = as_text(change["before"], names)
        change["after_text"] = as_text(change["after"], names)
    return {"seq": seq, "type": kind, "category": category(kind), "actor": actor,
            "actor_name": None if actor == "system" else names.user(actor), "on_behalf_of": data.get("on_behalf_of"),
            "at": at, "element_id": element, "element_name": specs.names.get(element or "", element),
            "task_id": task, "data": data, "changes": changes}


def history(ctx: Services, instance_id: str, f: HistoryFilter | None = None) -> list[dict]:
    """The request's events in order (see the module), narrowed by `f`; `at` is an aware datetime."""
    f = (f or HistoryFilter()).check()
    return [row for row in _load_history(ctx, instance_id)[1] if f.keeps(row)]


def as_text(value, names: Names, yes: str = "是", no: str = "否") -> str:
    """A submitted value as people read it: names for user and department ids, lists joined, table rows
    as `column: value` pairs."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return yes if value else no
    if isinstance(value, dict):
        return "；".join(f"{k}: {as_text(v, names, yes, no)}" for k, v in value.items())
    if isinstance(value, list):
        return (" | " if any(isinstance(v, dict) for v in value) else "、").join(
            as_text(v, names, yes, no) for v in value)
    return str(names.value(value))


# --- exports ---------------------------------------------------------------------------------------

def export_history(ctx: Services, instance_id: str, f: HistoryFilter | None, fmt: str, zone: str,
                   labels: dict | None = None) -> tuple[str, bytes, str]:
    """(file name, bytes, media type) of the filtered history as CSV, Excel or JSON; times in `zone`.

    `labels` (optional) names the columns (`columns`), categories and event types (`types`) and the
    engine as actor (`system`) in the reader's language; without it the codes are written."""
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown export format '{fmt}' (known: {', '.join(FORMATS)})")
    f = (f or HistoryFilter()).check()
    head, rows = _load_history(ctx, instance_id)
    rows = [r for r in rows if f.keeps(r)]
    tz = ZoneInfo(zone)
    name = f"{head['request_no'] or head['instance_id']}-history.{fmt}"
    if fmt == "json":
        body = {**head, "filter": f.to_dict(), "time_zone": zone, "events": [
            {**{k: r[k] for k in COLUMNS if k != "at"}, "at": r["at"].isoformat(),
             "at_local": r["at"].astimezone(tz).isoformat()} for r in rows]}
        return name, json.dumps(body, ensure_ascii=False, indent=1, default=str).encode("utf-8"), FORMATS[fmt]
    labels = labels or {}
    header = [labels.get("columns", {}).get(c, c) for c in COLUMNS]
    table = [_flat(r, tz, labels) for r in rows]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        # A cell starting with = + - @ would be run as a formula by a spreadsheet: kept as text.
        writer.writerows([["'" + c if isinstance(c, str) and c[:1] in "=+-@" else c for c in line]
                          for line in table])
        return name, ("\ufeff" + out.getvalue()).encode("utf-8"), FORMATS[fmt]
    book = Workbook()
    sheet = book.active
    sheet.title = labels.get("sheet", "history")[:31]
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for line in table:
        sheet.append(line)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # typed text, not a formula
    for letter, width in zip("ABCDEFGHIJK", (6, 18, 10, 18, 12, 10, 20, 24, 38, 50, 60), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"
    data = io.BytesIO()
    book.save(data)
    return name, data.getvalue(), FORMATS[fmt]


def _flat(row: dict, tz: ZoneInfo, labels: dict) -> list:
    types = labels.get("types", {})
    changes = "；".join(f"{c['label'] or labels.get('fields', {}).get(c['field'], c['field'])}: "
                       f"{c['before_text'] or '—'} → {c['after_text'] or '—'}" for c in row["changes"] if c["changed"])
    return [row["seq"], row["at"].astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
            str(types.get(row["category"], row["category"])), str(types.get(row["type"], row["type"])), row["actor"],
            row["actor_name"] or str(labels.get("system", "system")), row["element_id"] or "",
            row["element_name"] or "", row["task_id"] or "", changes,
            json.dumps(row["data"], ensure_ascii=False, sort_keys=True, default=str)]


# --- auditors' views, verification, the index ------------------------------------------------------

def record_view(ctx: Services, instance_id: str, user: str, view: str) -> None:
    """Log that `user` read the request through `view` (a page, an export, an API call): an event of
    its audit chain, so the log is as tamper-evident as the rest; the cached workflow stays valid."""
    with ctx.db.transaction() as tx:
        head = audit.lock_chain(tx, str(instance_id))
        audit.append(tx, head, VIEWED, user, ctx.now(), data={"view": view})


def verification(ctx: Services, instance_id: str) -> dict:
    """Whether the request's audit chain and its anchored head hold (audit.verification), as `verified`,
    with each problem found, the rows in its chain and when an anchor last saw it."""
    found = audit.verification(ctx, str(instance_id))
    return {"verified": found["ok"], **found}


def audit_index(ctx: Services, user: str, text: str = "", status: str | None = None, page: int = 1,
                per_page: int = 20) -> Page:
    """Every request (newest first, searched by number or title), each with its last recorded
    verification (audit.verify_and_record: {checked_at, ok, events, problems}, None if never verified)."""
    found = list_requests(ctx, user, None, RequestFilter(scope="all", text=text,
                                                         status=status if status in STATUSES else None),
                          page, per_page)
    results = audit.recorded(ctx, [item["instance_id"] for item in found.items])
    for item in found.items:
        item["verification"] = results.get(item["instance_id"])
    return found


def verify_request(ctx: Services, instance_id: str) -> dict:
    """Verify one request's chain now and record the result (the index's "verify now"); the result."""
    audit.verify_and_record(ctx, chain_ids=[str(instance_id)])
    return audit.recorded(ctx, [str(instance_id)])[str(instance_id)]


def process_changes(ctx: Services, process_id: str | None = None) -> dict:
    """What changed the processes themselves, newest first: every deploy and migration of requests from
    the processes' audit chains, and each chain verified now (process chains are short: a row per
    deploy or move) with its last recorded result. {"events": [...], "chains": {process_id: {chain_id,
    verified, problems, events, recorded}}}."""
    events = audit.process_events(ctx, process_id)
    chains = {}
    for pid, chain in sorted({(e["process_id"], e["chain_id"]) for e in events}):
        state = audit.verification(ctx, chain)
        chains[pid] = {"chain_id": chain, "verified": state["ok"], "problems": state["problems"],
                       "events": state["events"], "anchored_at": state["anchored_at"],
                       "recorded": audit.recorded(ctx, [chain]).get(chain)}
    names = Names(directory(ctx))
    for e in events:
        e["actor_name"] = names.user(e["actor"])
        e["problem"] = [p for p in chains[e["process_id"]]["problems"] if p["seq"] == e["seq"]]
    return {"events": events, "chains": chains}


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


def replay(ctx: Services, instance_id: str) -> dict:
    """The request's diagrams (of the version it ran on), scopes and steps with the state after each."""
    with ctx.db.transaction(write=False) as tx:
        row = ctx.store.row(tx, str(instance_id))
        specs = _specs(ctx, tx, row.process_version_id)
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
    values = _Values(specs)
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
    return {"instance_id": row.id, "request_no": row.business_key, "status": row.status,
            "process_id": row.process_id, "version": row.process_version, "scopes": scopes,
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


def _label_runs(scopes: dict, nodes: list[_Node], specs: _Specs) -> None:
    """Each called process's run: its call's step and its number among the runs of that call element."""
    starts = {n.task_id: n.start for n in nodes}
    runs: dict[str, int] = {}
    for sid in sorted((s for s in scopes if s != "main"), key=lambda s: starts.get(s, 0)):
        scope = scopes[sid]
        runs[scope["element_id"]] = runs.get(scope["element_id"], 0) + 1
        scope.update(run=runs[scope["element_id"]], start=starts.get(sid, 0),
                     name=specs.names.get(scope["element_id"], scope["element_id"]))
    scopes["main"].update(run=1, start=0, name=None)


def _scope_of(event: dict, by_task: dict[str, _Node], scopes: dict, specs: _Specs) -> str:
    node = by_task.get(event["task_id"] or "")
    if node is not None:
        return node.scope
    # A task no longer in the tree: the latest run of the process holding its element.
    pid = specs.process_of.get(event["element_id"] or "")
    runs = [s for s, v in scopes.items() if s != "main" and v["process_id"] == pid]
    return max(runs, key=lambda s: scopes[s]["start"]) if runs else "main"


def _follow(open_tasks: dict, event: dict, by_task, scopes, specs: _Specs, names: Names) -> None:
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
