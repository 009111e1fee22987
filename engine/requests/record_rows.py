"""Records of a request as rows: what each kind holds, how its input is checked, and its SQL.

Both ways of writing a record use this module: the record services (engine.requests.records),
each in a transaction of its own, and the forms of user tasks (engine.requests.record_forms),
inside complete_task's transaction. Statements are plain SQL on the command path's Tx with `?`
placeholders; the column types of the models decide how values are bound and read back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Boolean, Date

from engine.bpmn.forms import FieldError
from engine.db.models import Base
from engine.db.models import DateTime as StoredDateTime
from engine.db.tx import Tx
from engine.errors import FormInvalid
from engine.messages import Msg

TEXT_MAX = 20_000
STRING_MAX = 255
PROGRESS_STATUSES = ("未开始", "进行中", "待支持", "已完成")
ACCEPTANCE_DECISIONS = ("验收通过", "退回修改")
JSON_COLUMNS = frozenset({"attendees", "attachment_ids", "departments"})


@dataclass(frozen=True)
class Col:
    """One input of a record: its type, whether it is required, the other names a form may give it."""

    type: str  # text string enum bool date datetime int user users department departments attachments table
    required: bool = False
    names: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    max: int = TEXT_MAX
    columns: dict[str, Col] = field(default_factory=dict)  # of a table


@dataclass(frozen=True)
class Kind:
    """A kind of record: its table, its audit event and its inputs (a form field's id is an input's
    name or one of its other names, bare or after one of the kind's prefixes: feedback_content)."""

    name: str
    table: str
    event: str
    cols: dict[str, Col]
    prefixes: tuple[str, ...] = ()

    def column_of(self, field_id: str) -> str | None:
        for col, spec in self.cols.items():
            for name in (col, *spec.names):
                if field_id == name or any(field_id == f"{p}_{name}" for p in self.prefixes):
                    return col
        return None


def _text(required: bool = False, names: tuple[str, ...] = (), max: int = TEXT_MAX) -> Col:
    return Col("text", required, names, max=max)


PLAN_TASK = {
    "task_key": Col("string", names=("key",), max=36),
    "title": Col("string", True, max=STRING_MAX),
    "department_id": Col("department", True, names=("dept", "department")),
    "owner": Col("user", True),
    "planned_start": Col("date", True, names=("start",)),
    "planned_end": Col("date", True, names=("end",)),
    "delivery_standard": _text(True, ("standard",)),
}
ACTION_ITEM = {"action": _text(True), "owner": Col("user", True), "deadline": Col("date", True)}
FILES = ("attachments", "files")

KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("progress_update", "progress_update", "progress_posted", {
        "status": Col("enum", True, options=PROGRESS_STATUSES), "work_done": _text(names=("done",)),
        "problems": _text(names=("open_issues",)), "risk": Col("bool"), "risk_note": _text(),
        "expected_finish": Col("date")}, ("progress",)),
    Kind("comment", "request_comment", "comment_added", {"body": _text(True)}, ("comment",)),
    Kind("meeting", "meeting", "meeting_scheduled", {
        "starts_at": Col("datetime", True, names=("time",)), "place": _text(max=STRING_MAX),
        "agenda": _text(True), "attendees": Col("users")}, ("meeting", "conflict_meeting")),
    Kind("minutes", "meeting_minutes", "minutes_recorded", {
        "content": _text(True, ("minutes",)), "conclusions": _text(), "attendees": Col("users"),
        "attachment_ids": Col("attachments", names=FILES), "meeting_id": Col("int")}, ("minutes", "meeting")),
    Kind("feedback", "dept_feedback", "feedback_given", {
        "content": _text(True), "suggested_date": Col("date", True), "resources": _text(), "remarks": _text(),
        "department_id": Col("department", names=("department", "dept"))}, ("feedback",)),
    Kind("plan", "coordination_plan", "plan_saved", {
        "tasks": Col("table", True, columns=PLAN_TASK), "risk_plan": _text(True),
        "lead_department": Col("department", names=("lead_dept",))}, ("plan",)),
    Kind("action_items", "action_table", "action_items_added", {
        "items": Col("table", True, names=("action_items",), columns=ACTION_ITEM),
        "decision": _text(names=("arbitration_decision",))}, ("action",)),
    Kind("retrospective", "retrospective", "retrospective_added", {
        "goal": _text(True), "result": _text(True), "highlights": _text(True), "problems": _text(True),
        "improvements": _text(True), "departments": Col("departments", names=("participants",))},
        ("retro", "retrospective")),
    Kind("satisfaction", "satisfaction", "satisfaction_rated", {
        "score": Col("int", True, names=("satisfaction",)), "remark": _text(names=("comment",))},
        ("satisfaction",)),
    Kind("deliverable", "deliverable", "deliverable_submitted", {
        "note": _text(True, ("summary",)), "attachment_ids": Col("attachments", names=FILES)}, ("deliverable",)),
    Kind("acceptance", "acceptance", "acceptance_recorded", {
        "decision": Col("enum", True, names=("result",), options=ACCEPTANCE_DECISIONS), "problem": _text()},
        ("acceptance",)),
    Kind("conflict_position", "conflict_position", "position_stated", {
        "position": _text(True, ("statement",)), "demands": _text(True),
        "attachment_ids": Col("attachments", names=(*FILES, "evidence")),
        "department_id": Col("department", names=("department", "dept", "party_dept"))},
        ("position", "conflict_position")),
    Kind("lesson", "knowledge_entry", "lesson_proposed", {
        "title": _text(True, max=STRING_MAX), "body": _text(True), "tags": _text(max=STRING_MAX)}, ("lesson",)),
)}


# --- checking input ---------------------------------------------------------------------------

def _coerce(col: Col, value: Any, zone: ZoneInfo) -> Any:
    """The value as the column stores it, or FieldError with a message for the person who typed it."""
    if col.type == "table":
        return _table(col, value, zone)
    empty = value is None or value == "" or value == []
    if empty and col.required:
        raise FieldError(Msg("field.required"))
    if col.type in ("text", "string", "enum", "user", "department"):
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise FieldError(Msg("record.not_text", given=type(value).__name__))
        value = value.strip()
        if col.required and not value:
            raise FieldError(Msg("field.required"))
        if len(value) > col.max:
            raise FieldError(Msg("record.too_long", most=col.max, n=len(value)))
        if col.type == "enum" and value and value not in col.options:
            raise FieldError(Msg("record.not_option", known=list(col.options), given=repr(value)))
        return value or (None if col.type in ("user", "department") else "")
    if col.type == "bool":
        if value is None:
            return False
        if not isinstance(value, bool):
            raise FieldError(Msg("record.not_boolean", given=repr(value)))
        return value
    if empty:
        return [] if col.type in ("users", "departments", "attachments") else None
    if col.type == "date":
        return _date(value)
    if col.type == "datetime":
        return _datetime(value, zone)
    if col.type == "int":
        if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdigit():
            raise FieldError(Msg("record.not_integer", given=repr(value)))
        return int(value)
    if col.type in ("users", "departments"):
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not all(isinstance(v, str) for v in items):
            raise FieldError(Msg("record.not_ids"))
        return list(dict.fromkeys(v.strip() for v in items if v.strip()))
    if col.type == "attachments":
        items = [value] if isinstance(value, (int, str)) else value
        if not isinstance(items, (list, tuple)) or not all(
                not isinstance(v, bool) and str(v).strip().isdigit() for v in items):
            raise FieldError(Msg("record.not_attachment_ids"))
        return list(dict.fromkeys(int(v) for v in items))
    raise ValueError(f"unknown input type {col.type}")


def _date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise FieldError(Msg("record.not_date", given=repr(value))) from None


def _datetime(value: Any, zone: ZoneInfo) -> datetime:
    """A moment; one without a time zone is read in the organisation's, as people type it."""
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise FieldError(Msg("record.not_datetime", given=repr(value))) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _table(col: Col, value: Any, zone: ZoneInfo) -> list[dict]:
    if value in (None, "", []):
        if col.required:
            raise FieldError(Msg("record.no_rows"))
        return []
    if not isinstance(value, (list, tuple)) or not all(isinstance(r, dict) for r in value):
        raise FieldError(Msg("record.not_rows"))
    known = {name: c for c, spec in col.columns.items() for name in (c, *spec.names)}
    rows = []
    for n, raw in enumerate(value, start=1):
        unknown = sorted(k for k in raw if k not in known and raw[k] not in (None, ""))
        if unknown:
            raise FieldError(Msg("field.row_unknown_column", row=n, column=unknown[0]))
        given = {known[k]: v for k, v in raw.items() if k in known and v not in (None, "")}
        named = {known[k]: k for k in raw if k in known}  # errors use the column name the row used
        row = {}
        for c, spec in col.columns.items():
            try:
                row[c] = _coerce(spec, given.get(c), zone)
            except FieldError as exc:
                raise FieldError(Msg("field.row_cell", row=n, column=named.get(c, c), problem=exc.msg)) from None
        rows.append(row)
    return rows


def validate(kind: Kind, raw: dict[str, Any], zone: ZoneInfo, label: Callable[[str], str] = str) -> dict[str, Any]:
    """The inputs of `kind` in `raw` (keyed by input name) checked and converted; FormInvalid names
    each wrong input by `label(name)` (the form field it came from, or the parameter)."""
    values, errors = {}, {}
    for name, col in kind.cols.items():
        try:
            values[name] = _coerce(col, raw.get(name), zone)
        except FieldError as exc:
            errors[label(name)] = exc.msg
    if errors:
        raise FormInvalid(errors)
    return values


def check_references(tx: Tx, instance_id: str, kind: Kind, values: dict, label: Callable[[str], str] = str) -> None:
    """Users and departments named must exist, attachments must belong to this request."""
    wanted: dict[str, dict[str, set]] = {}  # input label -> reference type -> names
    for name, col in kind.cols.items():
        specs = [(col, values.get(name))] if col.type != "table" else [
            (spec, row.get(c)) for row in values.get(name) or [] for c, spec in col.columns.items()]
        for spec, value in specs:
            ref = {"user": "user", "users": "user", "department": "department", "departments": "department",
                   "attachments": "attachment"}.get(spec.type)
            items = value if isinstance(value, list) else [value]
            if ref:
                wanted.setdefault(label(name), {}).setdefault(ref, set()).update(v for v in items if v)
    errors = {}
    for where, refs in wanted.items():
        for ref, names in refs.items():
            missing = sorted(names - _existing(tx, instance_id, ref, sorted(names)), key=str)
            if missing:
                errors.setdefault(where, Msg("record.missing_" + ref, names=[str(m) for m in missing]))
    if errors:
        raise FormInvalid(errors)


def _existing(tx: Tx, instance_id: str, ref: str, names: list) -> set:
    if not names:
        return set()
    marks = tx.in_list(names)
    if ref == "attachment":
        rows = tx.all(f"SELECT id FROM attachment WHERE instance_id = ? AND id IN ({marks})", (instance_id, *names))
    else:
        table = "app_user" if ref == "user" else "department"
        rows = tx.all(f"SELECT id FROM {table} WHERE id IN ({marks})", names)
    return {r[0] for r in rows}


# --- rows ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Origin:
    """Who wrote a record, when, and from which task (if any)."""

    author: str
    at: datetime
    task_id: str | None = None
    element_id: str | None = None


def _bind(tx: Tx, column, value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(column.type, StoredDateTime):
        return tx.stamp(value)
    if isinstance(column.type, Date) and value is not None and not tx.postgres:
        return value.isoformat()  # what SQLAlchemy's Date writes on SQLite
    return value


def _read(column, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, StoredDateTime):
        return Tx.when(value)
    if isinstance(column.type, Date) and isinstance(value, str):
        return date.fromisoformat(value)
    if isinstance(column.type, Boolean):
        return bool(value)
    if column.name in JSON_COLUMNS:
        return json.loads(value)
    return value


def insert(tx: Tx, table: str, values: dict[str, Any]) -> int:
    """Insert one row now (later statements of the command may read it); its id."""
    columns = Base.metadata.tables[table].c
    names = list(values)
    sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({tx.in_list(names)}) RETURNING id"
    return tx.one(sql, [_bind(tx, columns[n], values[n]) for n in names])[0]


def insert_many(tx: Tx, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert rows of one shape now, in one executemany."""
    if rows:
        columns = Base.metadata.tables[table].c
        names = list(rows[0])
        tx.many(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({tx.in_list(names)})",
                [[_bind(tx, columns[n], row[n]) for n in names] for row in rows])


def select(tx: Tx, table: str, where: str, params: tuple = (), order: str = "id") -> list[dict[str, Any]]:
    """Rows of `table` as dicts of Python values (aware datetimes, dates, bools, lists)."""
    columns = list(Base.metadata.tables[table].c)
    rows = tx.all(f"SELECT {', '.join(c.name for c in columns)} FROM {table} WHERE {where} ORDER BY {order}",
                  params)
    return [{c.name: _read(c, v) for c, v in zip(columns, row, strict=True)} for row in rows]


def record_values(head, origin: Origin, values: dict[str, Any]) -> dict[str, Any]:
    """A record row: the leading columns every record has, then its own."""
    return {"instance_id": head.id, "request_no": head.business_key, "task_id": origin.task_id,
            "element_id": origin.element_id, "author": origin.author, "created_at": origin.at, **values}
