"""What auditors read of a request: its history, exports of it, its verification state, and the log
of their own views (its replay step by step is engine.audit.history_replay).

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

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font

from engine.audit import verify as audit_verify
from engine.context import Services
from engine.db import chain as audit
from engine.db.tx import Tx
from engine.errors import InvalidInput, NotFound
from engine.messages import Msg
from engine.org.directory import directory
from engine.page import Page
from engine.requests.record_access import VIEWED, note_read
from engine.requests.request_view import STATUSES, Names, RequestFilter, list_requests
from engine.workflow.elements import VersionSpecs, version_specs

NOTIFIED = "notification_sent"  # a notification of the outbox, shown among the events
USER_EVENTS = frozenset({
    "instance_started", "task_completed", "task_claimed", "task_released", "task_transferred", "task_delegated",
    "delegation_resolved", "task_copied", "task_urged", "request_withdrawn", "instance_cancelled",
    "instance_retried"})
ENGINE_EVENTS = frozenset({"task_ready", "task_cancelled", "assignment_fallback", "instance_completed",
                           "instance_errored", "task_auto_passed", "task_skipped"})
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
                raise InvalidInput("history.zone_needed")
        if self.type and not (self.type in TYPES or self.type.replace("_", "").isalpha()):
            raise InvalidInput("choice.unknown", what=Msg("what.event_type"), given=self.type, known=list(TYPES))
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


class FormValues:
    """The latest submitted value of each field, to set a new submission against."""

    def __init__(self, specs: VersionSpecs):
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
                            "changed": before != after, "columns": self.specs.columns.get(name, {})})
                self.seen[(who, name)] = self.seen[(None, name)] = after
            return out
        before, after = data.get("before"), data.get("after")
        if isinstance(before, dict) and isinstance(after, dict):
            return [{"field": k, "label": None, "before": before.get(k), "after": after.get(k), "changed": True,
                     "columns": {}}
                    for k in dict.fromkeys([*before, *after]) if before.get(k) != after.get(k)]
        return []


def _load_history(ctx: Services, instance_id: str) -> tuple[dict, list[dict]]:
    """The instance's head facts and every event (notifications placed among them), unfiltered."""
    with ctx.db.transaction(write=False) as tx:
        found = tx.one("SELECT process_version_id, business_key, status FROM process_instance WHERE id = ?",
                       (str(instance_id),))
        if found is None:
            raise NotFound("request.unknown", request=instance_id)
        specs = version_specs(ctx, tx, found[0])
        events = tx.all("SELECT seq, event_type, actor, at, element_id, task_id, data FROM audit_event "
                        "WHERE instance_id = ? ORDER BY seq", (str(instance_id),))
        notes = tx.all("SELECT id, task_id, recipient, kind, message, code, params, created_at FROM notification "
                       "WHERE instance_id = ? ORDER BY created_at, id", (str(instance_id),))
    names = Names(directory(ctx))
    values = FormValues(specs)
    elements: dict[str, str | None] = {}
    rows: list[dict] = []
    pending = [(Tx.when(at), nid, task, who, kind, message, code, params)
               for nid, task, who, kind, message, code, params, at in notes]

    def note_rows(until: datetime | None):
        while pending and (until is None or pending[0][0] < until):
            at, nid, task, who, kind, message, code, params = pending.pop(0)
            element = elements.get(task or "")
            rows.append(_row(None, NOTIFIED, "system", at, element, task, {  # the code tells it in a reader's words
                "id": nid, "recipient": who, "recipient_name": names.user(who), "kind": kind, "message": message,
                "code": code, "params": json.loads(params) if params else None},
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


def _row(seq, kind, actor, at, element, task, data, changes, names: Names, specs: VersionSpecs) -> dict:
    for change in changes:
        change["before_text"] = as_text(change["before"], names)
        change["after_text"] = as_text(change["after"], names)
    return {"seq": seq, "type": kind, "category": category(kind), "actor": actor,
            "actor_name": None if actor == "system" else names.user(actor), "on_behalf_of": data.get("on_behalf_of"),
            "at": at, "element_id": element, "element_name": specs.names.get(element or "", element),
            "end_name": specs.names.get(data["end_event"], data["end_event"]) if data.get("end_event") else None,
            "task_id": task, "data": data, "changes": changes}


def history(ctx: Services, instance_id: str, f: HistoryFilter | None = None, reader: str | None = None) -> list[dict]:
    """The request's events in order (see the module), narrowed by `f`; `at` is an aware datetime.
    An auditor's read (`reader`) is logged on the request's chain."""
    f = (f or HistoryFilter()).check()
    rows = [row for row in _load_history(ctx, instance_id)[1] if f.keeps(row)]
    note_read(ctx, instance_id, reader, "history")
    return rows


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
                   labels: dict | None = None, reader: str | None = None) -> tuple[str, bytes, str]:
    """(file name, bytes, media type) of the filtered history as CSV, Excel or JSON; times in `zone`.

    `labels` (optional) names the columns (`columns`), categories and event types (`types`) and the
    engine as actor (`system`) in the reader's language; without it the codes are written."""
    if fmt not in FORMATS:
        raise InvalidInput("choice.unknown", what=Msg("what.format"), given=fmt, known=list(FORMATS))
    f = (f or HistoryFilter()).check()
    head, rows = _load_history(ctx, instance_id)
    rows = [r for r in rows if f.keeps(r)]
    note_read(ctx, instance_id, reader, "history_export")
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

def verification(ctx: Services, instance_id: str) -> dict:
    """Whether the request's audit chain and its anchored head hold (audit_verify.verification), as `verified`,
    with each problem found, the rows in its chain and when an anchor last saw it."""
    found = audit_verify.verification(ctx, str(instance_id))
    return {"verified": found["ok"], **found}


def audit_index(ctx: Services, user: str, text: str = "", status: str | None = None, page: int = 1,
                per_page: int = 20) -> Page:
    """Every request (newest first, searched by number or title), each with its last recorded
    verification (audit_verify.verify_and_record: {checked_at, ok, events, problems}, None if never verified)."""
    found = list_requests(ctx, user, None, RequestFilter(scope="all", text=text,
                                                         status=status if status in STATUSES else None),
                          page, per_page)
    results = audit_verify.recorded(ctx, [item["instance_id"] for item in found.items])
    for item in found.items:
        item["verification"] = results.get(item["instance_id"])
    return found


def verify_request(ctx: Services, instance_id: str) -> dict:
    """Verify one request's chain now and record the result (the index's "verify now"); the result."""
    audit_verify.verify_and_record(ctx, chain_ids=[str(instance_id)])
    return audit_verify.recorded(ctx, [str(instance_id)])[str(instance_id)]


def process_changes(ctx: Services, process_id: str | None = None) -> dict:
    """What changed the processes themselves, newest first: every deploy and migration of requests from
    the processes' audit chains, and each chain verified now (process chains are short: a row per
    deploy or move) with its last recorded result. {"events": [...], "chains": {process_id: {chain_id,
    verified, problems, events, recorded}}}."""
    events = audit.process_events(ctx, process_id)
    chains = {}
    for pid, chain in sorted({(e["process_id"], e["chain_id"]) for e in events}):
        state = audit_verify.verification(ctx, chain)
        chains[pid] = {"chain_id": chain, "verified": state["ok"], "problems": state["problems"],
                       "events": state["events"], "anchored_at": state["anchored_at"],
                       "recorded": audit_verify.recorded(ctx, [chain]).get(chain)}
    names = Names(directory(ctx))
    for e in events:
        e["actor_name"] = names.user(e["actor"])
        e["problem"] = [p for p in chains[e["process_id"]]["problems"] if p["seq"] == e["seq"]]
    return {"events": events, "chains": chains}
