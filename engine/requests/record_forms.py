"""Records from task forms: a form field with `<camunda:property id="record" value="KIND" />`
puts its value into a record of that kind when the task completes, in the command's transaction.

A field feeds the record input whose name it has, bare or after the kind's prefix (see
engine.requests.record_rows.KINDS: `feedback_content` and `content` both fill a feedback's
content). Its value then lives in the record only, not in the task data, unless the field also
says `<camunda:property id="data" value="true" />` because the process routes on it, computes
with it or shows it read-only to a later task. A field that names no input of its kind goes to
the task data only. Errors name the form field. The request form's own fields (kind `request`)
are the instance's start data and make no record.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from engine.bpmn.forms import RECORD_KINDS, Form, FormField
from engine.config import EngineConfig
from engine.db import chain as audit
from engine.db.tx import Tx
from engine.errors import InvalidInput
from engine.requests.record_rows import KINDS, Origin, check_references, validate
from engine.requests.record_write import latest_plan, write
from engine.workflow.store import InstanceRow

NOT_RECORDS = frozenset({"request"})
FORM_KINDS = tuple(k for k in RECORD_KINDS if k not in NOT_RECORDS)  # in the order they are written
ON_PLAN_TASK = frozenset({"progress_update", "deliverable", "acceptance"})
_CONTEXT = ("plan_task", "plan_task_key")  # keys the caller adds beside the fields


def form_records(form: Form, clean: dict, task_data: dict | None = None) -> dict[str, dict]:
    """The submitted values grouped by their fields' record kind: kind -> {field id: value}.

    A read-only field contributes the value the task showed. A kind whose fields were all left
    empty (or false) is left out. Progress, deliverables and
    acceptances get the plan row the task works on (`plan_task` in the task data, as the
    multi-instance execution of a plan provides it), when there is one.
    """
    by_kind: dict[str, dict] = {}
    shown = task_data or {}
    for fld in form.fields:
        kind = fld.properties.get("record")
        if not kind or kind in NOT_RECORDS:
            continue
        if fld.id in clean:
            by_kind.setdefault(kind, {})[fld.id] = clean[fld.id]
        elif fld.readonly and fld.id in shown:  # shown, not submitted: the record takes what was shown
            by_kind.setdefault(kind, {})[fld.id] = shown[fld.id]
    by_kind = {k: v for k, v in by_kind.items() if any(x not in (None, "", [], False) for x in v.values())}
    plan_task = (task_data or {}).get("plan_task")
    if isinstance(plan_task, dict):
        for kind in ON_PLAN_TASK & by_kind.keys():
            by_kind[kind]["plan_task"] = plan_task
    return by_kind


def record_only(fld: FormField) -> bool:
    """Whether a submitted value of `fld` is kept in its record and left out of the task data."""
    kind = KINDS.get(fld.properties.get("record", ""))
    return kind is not None and fld.properties.get("data") != "true" and kind.column_of(fld.id) is not None


def task_data_values(form: Form, clean: dict) -> dict:
    """The submitted values a completed task adds to its data: all but the record-only ones."""
    fields = {f.id: f for f in form.fields}
    return {fid: value for fid, value in clean.items() if fid not in fields or not record_only(fields[fid])}


def store_form_records(tx: Tx, instance_row: InstanceRow, task_id: str, element_id: str | None, actor: str,
                       now: datetime, fields_by_kind: dict[str, dict], *,
                       timezone: str = EngineConfig.timezone) -> dict[str, int]:
    """Write the records of a completed task's form in the command's transaction; kind -> record id.

    The command holds the instance's row locked; each record's event goes onto its audit chain
    through audit.record and the command writes the row. A naive date and time is read in
    `timezone`. FormInvalid names the form field at fault; nothing is kept if anything fails,
    since the command rolls back.
    """
    unknown = sorted(set(fields_by_kind) - set(FORM_KINDS))
    if unknown:
        raise InvalidInput("record_forms.unknown_kind", element=element_id, given=list(unknown), known=list(FORM_KINDS))
    zone = ZoneInfo(timezone)
    origin = Origin(actor, now, task_id, element_id)
    written: dict[str, int] = {}
    for name in FORM_KINDS:
        fields = fields_by_kind.get(name)
        if fields is None:
            continue
        kind = KINDS[name]
        raw, source = {}, {}
        for field_id, value in fields.items():
            column = None if field_id in _CONTEXT else kind.column_of(field_id)
            if column is not None and column not in raw:
                raw[column], source[column] = value, field_id

        def label(column: str, source=source, kind=kind) -> str:
            return source.get(column) or (f"{kind.prefixes[0]}_{column}" if kind.prefixes else column)

        values = validate(kind, raw, zone, label)
        check_references(tx, instance_row.id, kind, values, label)
        key = None
        if name in ON_PLAN_TASK:
            key = fields.get("plan_task_key") or plan_task_key(tx, instance_row.id, fields.get("plan_task"))
        rid, data = write(tx, instance_row, kind, values, origin, label, key)
        audit.record(tx, instance_row, kind.event, actor, now, element_id, task_id, data)
        written[name] = rid
    return written


def plan_task_key(tx: Tx, instance_id: str, plan_task: dict | None) -> str | None:
    """The key of the plan task a task's `plan_task` row stands for: its own `key`, else the task
    of the current plan with the same title and department; None if there is none."""
    if not isinstance(plan_task, dict):
        return None
    key = plan_task.get("key") or plan_task.get("task_key")
    if key:
        return str(key)
    department = plan_task.get("dept") or plan_task.get("department_id") or plan_task.get("department")
    return next((t["task_key"] for t in latest_plan(tx, instance_id)[1]
                 if t["title"] == plan_task.get("title") and t["department_id"] == department), None)
