"""Task forms read from `camunda:formData`, and each value coerced to its field's type (checking a whole
submission is engine.bpmn.form_validation)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any

from engine.messages import Msg

FIELD_TYPES = frozenset({
    "string", "text", "long", "double", "boolean", "date", "datetime", "enum",
    "user", "users", "department", "departments", "file", "files", "table",
})
# A table's columns hold one scalar each: `columns` is "id[!]:type:label,..." ("!" = required).
COLUMN_TYPES = frozenset({"string", "text", "long", "double", "boolean", "date", "datetime", "user",
                          "department"})
CONSTRAINTS = frozenset({"required", "readonly", "minlength", "maxlength", "min", "max", "pattern"})
MULTI_TYPES = {"users", "departments", "files"}
FILE_TYPES = ("file", "files")  # fields whose values are attachment ids
# What a field's `record` property may name: the record its value is kept in, in the order a
# completion writes them (a plan before the progress on it). The value is kept there instead of in
# the task data. A field the process still reads (a gateway condition, a script, an assignment or
# timer expression, a multi-instance collection, a later form showing it read-only) also has
# `<camunda:property id="data" value="true"/>` and is kept in both; "true" is the only value `data`
# takes. "request" marks the request form's own fields, which are the instance's start data, not a record.
RECORD_KINDS = ("feedback", "meeting", "minutes", "plan", "progress_update", "deliverable", "acceptance",
                "conflict_position", "action_items", "retrospective", "satisfaction", "lesson", "request")


@dataclass
class FormField:
    """One field of a task form."""

    id: str
    type: str
    label: str = ""
    default: Any = None
    required: bool = False
    readonly: bool = False
    options: list[tuple[str, str]] = field(default_factory=list)
    min: float | None = None
    max: float | None = None
    minlength: int | None = None
    maxlength: int | None = None
    pattern: str | None = None
    properties: dict[str, str] = field(default_factory=dict)
    columns: list[FormField] = field(default_factory=list)  # of a table

    def to_dict(self) -> dict:
        return {
            "id": self.id, "type": self.type, "label": self.label, "default": self.default,
            "required": self.required, "readonly": self.readonly,
            "options": [list(o) for o in self.options], "min": self.min, "max": self.max,
            "minlength": self.minlength, "maxlength": self.maxlength, "pattern": self.pattern,
            "properties": dict(self.properties), "columns": [c.to_dict() for c in self.columns],
        }

    @classmethod
    def from_dict(cls, dct: dict) -> FormField:
        return cls(**{**dct, "options": [tuple(o) for o in dct.get("options", [])],
                      "columns": [cls.from_dict(c) for c in dct.get("columns", [])]})


ACCESS = ("readonly", "hidden")  # what a step may make of a field besides letting it be edited


@dataclass
class Form:
    """The fields a user task asks for, in order; `access`: the fields of the request (or of this
    form) that this step shows read-only or hides, by id (the task's hiddenFields and readonlyFields)."""

    fields: list[FormField] = field(default_factory=list)
    key: str | None = None
    access: dict[str, str] = field(default_factory=dict)
    # 批量审批: the step may be done for several tasks at once with {field: value} as the decision and
    # one comment into `comment` (the task's batchDecision "field=value" and batchComment "field")
    batch: dict[str, str] = field(default_factory=dict)
    # What the engine does by itself at this step (engine.workflow.step.automatic): `noAssignee`
    # (admins, superior or skip) when nobody the diagram names can take it, `autoPass` (sameApprover)
    # when its approver is the one who just completed the step before it.
    rules: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        found = {"key": self.key, "fields": [f.to_dict() for f in self.fields]}
        for name in ("access", "batch", "rules"):
            if getattr(self, name):
                found[name] = dict(getattr(self, name))
        return found

    @classmethod
    def from_dict(cls, dct: dict | None) -> Form:
        dct = dct or {}
        return cls([FormField.from_dict(f) for f in dct.get("fields", [])], dct.get("key"),
                   dict(dct.get("access") or {}), dict(dct.get("batch") or {}), dict(dct.get("rules") or {}))

    def unanswered(self) -> dict[str, Any]:
        """The step's editable fields as left unanswered, for a task the engine passes by a rule: an
        empty text for text fields (scripts may read them), nothing for the others."""
        return {f.id: "" if f.type in ("string", "text") else None for f in self.fields if not f.readonly}

    def batch_values(self, comment: str) -> dict[str, str]:
        """What one task of a batch is completed with: the step's decision, and `comment`."""
        values = {self.batch["field"]: self.batch["value"]}
        if self.batch.get("comment"):
            values[self.batch["comment"]] = comment
        return values

    @property
    def hidden(self) -> frozenset[str]:
        """The fields this step never shows nor sends: not on its page, not in its data."""
        return frozenset(k for k, v in self.access.items() if v == "hidden")

    def without_hidden(self, data: dict[str, Any]) -> dict[str, Any]:
        """`data` less what this step hides."""
        hidden = self.hidden
        return {k: v for k, v in data.items() if k not in hidden} if hidden else data

    def opening_values(self, data: dict[str, Any], reader: str | None = None) -> dict[str, Any]:
        """What the form shows when a task opens: each field's value in the task data, else nothing.

        A field with `<camunda:property id="prefill" value="false" />` opens empty (at its default)
        even when the data holds a value of that name: a decision or a finding asked afresh each time
        a loop comes back to the task (an acceptance after a return). Read-only fields always show
        the data. A user field with `prefill="self"` opens with the `reader` (the person opening the
        task) when the data holds no value for it (a follow-up admin is usually the dispatcher).
        """
        values = {f.id: data[f.id] for f in self.fields
                  if f.id in data and (f.readonly or f.properties.get("prefill", "true") != "false")}
        for f in self.fields:
            if reader and f.properties.get("prefill") == "self" and not values.get(f.id) and not f.readonly:
                values[f.id] = [reader] if f.type == "users" else reader
        return values


def form_from_xml(element, bpmn_ns: str, camunda_ns: str, key: str | None = None) -> tuple[Form, list[str]]:
    """The `camunda:formData` of a BPMN element (a user task or a start event), and its problems."""
    form, problems, seen = Form(key=key), [], set()
    for node in element.findall(f"{{{bpmn_ns}}}extensionElements/{{{camunda_ns}}}formData/{{{camunda_ns}}}formField"):
        fld, found = field_from_xml(node, camunda_ns)
        if fld.id in seen:
            found.append(f"form field id '{fld.id}' is used twice")
        seen.add(fld.id)
        problems.extend(found)
        form.fields.append(fld)
    return form, problems + check_form(form)


def field_from_xml(node, camunda_ns: str) -> tuple[FormField, list[str]]:
    """Build a field from a `camunda:formField` element; also return the problems found."""
    problems: list[str] = []
    fid = node.get("id") or ""
    ftype = node.get("type") or "string"
    if not fid:
        problems.append("form field without an id")
    if ftype not in FIELD_TYPES:
        problems.append(f"form field '{fid}' has unknown type '{ftype}' "
                        f"(known: {', '.join(sorted(FIELD_TYPES))})")
    fld = FormField(id=fid, type=ftype, label=node.get("label") or fid)
    raw_default = node.get("defaultValue")
    for child in node:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag == f"{{{camunda_ns}}}value":
            fld.options.append((child.get("id") or "", child.get("name") or child.get("id") or ""))
        elif tag == f"{{{camunda_ns}}}properties":
            for prop in child:
                if isinstance(prop.tag, str) and prop.get("id"):
                    fld.properties[prop.get("id")] = prop.get("value") or ""
        elif tag == f"{{{camunda_ns}}}validation":
            for cons in child:
                if isinstance(cons.tag, str):
                    problems.extend(_apply_constraint(fld, cons.get("name") or "", cons.get("config")))
    if ftype == "enum" and not fld.options:
        problems.append(f"enum field '{fid}' has no options")
    if ftype == "table":
        fld.columns, found = _columns(fid, fld.properties.get("columns", ""))
        problems.extend(found)
    if fld.properties.get("record", RECORD_KINDS[0]) not in RECORD_KINDS:
        problems.append(f"field '{fid}' names an unknown record '{fld.properties['record']}' "
                        f"(known: {', '.join(RECORD_KINDS)})")
    if fld.properties.get("data", "true") != "true":
        problems.append(f"field '{fid}' has data '{fld.properties['data']}' (write data=\"true\" to keep a "
                        "record field in the task data too, or leave the property out)")
    prefill = fld.properties.get("prefill", "true")
    if prefill not in ("true", "false", "self") or (prefill == "self" and fld.type not in ("user", "users")):
        problems.append(f"field '{fid}' has prefill '{prefill}' (write prefill=\"false\" to open the field empty "
                        "each time, prefill=\"self\" on a user field to offer the person opening the task, or leave "
                        "the property out)")
    if "requiredIf" in fld.properties and not required_if(fld):
        problems.append(f"field '{fid}' has a bad requiredIf '{fld.properties['requiredIf']}' "
                        "(write other_field=value or other_field=value1|value2)")
    if raw_default not in (None, ""):
        try:
            fld.default = coerce(fld, raw_default)
        except ValueError as exc:
            problems.append(f"default value of field '{fid}': {exc}")
    return fld, problems


def _columns(fid: str, spec: str) -> tuple[list[FormField], list[str]]:
    columns: list[FormField] = []
    problems: list[str] = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        cid, _, rest = part.partition(":")
        ctype, _, label = rest.partition(":")
        required = cid.endswith("!")
        cid = cid.rstrip("!").strip()
        ctype = ctype.strip() or "string"
        if not cid or ctype not in COLUMN_TYPES:
            problems.append(f"table field '{fid}' has a bad column '{part}' (write id[!]:type:label; "
                            f"types: {', '.join(sorted(COLUMN_TYPES))})")
            continue
        columns.append(FormField(id=cid, type=ctype, label=label.strip() or cid, required=required))
    if not columns and not problems:
        problems.append(f"table field '{fid}' needs a 'columns' property (id[!]:type:label,...)")
    return columns, problems


def _table(fld: FormField, value: Any, zone: tzinfo | None) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise FieldError(Msg("field.not_rows"))
    known = {c.id for c in fld.columns}
    rows = []
    for n, raw in enumerate(value, start=1):
        unknown = sorted(set(raw) - known)
        if unknown:
            raise FieldError(Msg("field.row_unknown_column", row=n, column=unknown[0]))
        row: dict[str, Any] = {}
        for col in fld.columns:
            cell = raw.get(col.id)
            if is_empty(cell):
                if col.required:
                    raise FieldError(Msg("field.row_cell", row=n, column=col.label, problem=Msg("field.required")))
                continue
            try:
                row[col.id] = coerce(col, cell, zone)
            except FieldError as exc:
                raise FieldError(Msg("field.row_cell", row=n, column=col.label, problem=exc.msg)) from None
        rows.append(row)
    return rows


def _apply_constraint(fld: FormField, name: str, config: str | None) -> list[str]:
    if name not in CONSTRAINTS:
        return [f"field '{fld.id}' has unknown constraint '{name}' (known: {', '.join(sorted(CONSTRAINTS))})"]
    try:
        if name in ("required", "readonly"):
            setattr(fld, name, (config or "true").strip().lower() != "false")
        elif name in ("minlength", "maxlength"):
            setattr(fld, name, int(config or ""))
        elif name in ("min", "max"):
            setattr(fld, name, float(config or ""))
        else:
            re.compile(config or "")
            fld.pattern = config
    except (ValueError, re.error) as exc:
        return [f"field '{fld.id}' constraint '{name}' has a bad config '{config}': {exc}"]
    return []


class FieldError(ValueError):
    """A value its field cannot take; `msg` says why (engine.messages)."""

    def __init__(self, msg: Msg):
        super().__init__(str(msg))
        self.msg = msg


def coerce(fld: FormField, value: Any, zone: tzinfo | None = None) -> Any:
    """Convert one submitted value to the field's type, or raise FieldError with the reason.

    A date and time without an offset is read in `zone` (the organisation's), so timers and due
    dates computed from it do not depend on the server's time zone.
    """
    if fld.type == "table":
        return _table(fld, value, zone)
    if fld.type in MULTI_TYPES:
        items = value if isinstance(value, list) else [v for v in str(value).split(",") if v.strip()]
        return [str(v).strip() for v in items]
    if fld.type in ("string", "text", "user", "department", "file"):
        return str(value)
    if fld.type == "long":
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise FieldError(Msg("field.not_integer", given=str(value)))
        try:
            return int(str(value).strip())
        except ValueError:
            raise FieldError(Msg("field.not_integer", given=str(value))) from None
    if fld.type == "double":
        try:
            return float(str(value).strip())
        except ValueError:
            raise FieldError(Msg("field.not_number", given=str(value))) from None
    if fld.type == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "on", "yes"):
            return True
        if text in ("false", "0", "off", "no", ""):
            return False
        raise FieldError(Msg("field.not_boolean", given=str(value)))
    if fld.type == "date":
        if isinstance(value, date) and not isinstance(value, datetime):
            return value.isoformat()
        try:
            return date.fromisoformat(str(value).strip()).isoformat()
        except ValueError:
            raise FieldError(Msg("field.not_date", given=str(value))) from None
    if fld.type == "datetime":
        try:
            moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).strip())
            return (moment.replace(tzinfo=zone) if moment.tzinfo is None and zone else moment).isoformat()
        except ValueError:
            raise FieldError(Msg("field.not_datetime", given=str(value))) from None
    if fld.type == "enum":
        text = str(value)
        if text not in {o[0] for o in fld.options}:
            raise FieldError(Msg("field.not_option", given=str(value), known=[o[0] for o in fld.options]))
        return text
    return value


def required_if(fld: FormField) -> tuple[str, list[str]] | None:
    """The condition of a `requiredIf` property ("field=value|value"): required when it holds."""
    other, _, values = fld.properties.get("requiredIf", "").partition("=")
    if not other.strip() or not values.strip():
        return None
    return other.strip(), [v.strip() for v in values.split("|")]


def check_form(form: Form) -> list[str]:
    """Problems between the fields of one form (a condition on a field the form does not have)."""
    ids = {f.id for f in form.fields}
    return [f"field '{f.id}' is required if '{cond[0]}' ..., which is not a field of this form"
            for f in form.fields if (cond := required_if(f)) and cond[0] not in ids]


def is_empty(value: Any) -> bool:
    """Whether a submitted value counts as left out."""
    return value is None or value == "" or value == []
