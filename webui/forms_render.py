"""Engine forms as HTML inputs, and submitted HTML form data back into the values the engine validates.

One module for the start form and every task form. `field_views` prepares what the macros of
templates/work/_fields.html draw; `parse` reads a submitted form. Validation stays in the engine:
`parse` only reshapes (a table's indexed inputs into rows, a local date and time into ISO 8601
with the reader's offset); the engine's messages are rendered by their codes (webui.i18n.message).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any

from flask_babel import gettext

from engine.bpmn.form_bounds import DEFAULT_MAX_LENGTH, max_length
from engine.bpmn.forms import Form, FormField, required_if
from engine.org.directory import Directory, local_date
from engine.requests.attachments import TYPES
from webui.extensions import services
from webui.i18n import bracketed, message, process_text, split_label

MULTI = frozenset({"users", "departments", "files"})
FILES = frozenset({"file", "files"})
ACCEPT = ",".join(ext for _mime, exts, _label in TYPES.values() for ext in exts)  # the engine's allow-list


@dataclass
class Choices:
    """What the pickers offer: the organisation's active users and its departments."""

    users: list[tuple[str, str]]
    departments: list[tuple[str, str]]
    user_names: dict[str, str]
    department_names: dict[str, str]


def choices(org: Directory) -> Choices:
    """Picker options from the organisation directory: departments in their order, users by department
    (the active ones who can be given work: auditors read and change nothing)."""
    depts = sorted(org.departments.items(), key=lambda d: (d[1]["sort_order"] or 0, d[1]["name"]))
    dept_names = {did: d["name"] for did, d in depts}
    order = {did: n for n, (did, _dept) in enumerate(depts)}
    people = sorted(((uid, org.users[uid]) for uid in org.workers),
                    key=lambda p: (order.get(p[1]["department_id"], len(order)), p[1]["name"]))
    users = [(uid, u["name"] + bracketed(dept_names[u["department_id"]]) if u["department_id"] in dept_names
              else u["name"]) for uid, u in people]
    return Choices(users, list(dept_names.items()), {uid: u["name"] for uid, u in org.users.items()}, dept_names)


@dataclass
class FieldView:
    """One field as a page draws it: its label split from its guidance, its value and its error."""

    field: FormField
    label: str
    help: str
    value: Any
    error: str | None
    condition: tuple[str, list[str]] | None  # requiredIf: (label of the other field, values)
    siblings: dict[str, str] = field(default_factory=dict)  # the form's field labels by id

    @property
    def id(self) -> str:
        return self.field.id

    @property
    def type(self) -> str:
        return self.field.type

    @property
    def options(self) -> list[tuple[str, str]]:
        """An enum's options: (the value stored and submitted, its name in the reader's language)."""
        return [(value, process_text(name)) for value, name in self.field.options]

    @property
    def date_rules(self) -> list[str]:
        """What a date field (or each date column of a table) accepts, in the reader's language."""
        if self.field.type == "date":
            rule = date_rule(self.field.properties, "", self.siblings)
            return [rule] if rule else []
        rules = []
        for col in self.field.columns:
            if col.type == "date":
                rule = date_rule(self.field.properties, "." + col.id, self.siblings)
                if rule:
                    rules.append(f"{process_text(col.label)}{gettext('：')}{rule}")
        return rules

    @property
    def column_labels(self) -> dict[str, str]:
        """A table's column labels in the reader's language, by column id."""
        return {c.id: process_text(c.label) for c in self.field.columns}


def field_views(form: Form, values: dict, errors: dict, zone: tzinfo) -> list[FieldView]:
    """The fields of `form` with `values` (a field left out shows its default), labels, guidance and errors
    in the reader's language (the values stay as they are stored)."""
    fields = {f.id: f for f in form.fields}
    labels = {f.id: process_text(split_label(f.label)[0]) for f in form.fields}
    views = []
    for fld in form.fields:
        label, help_text = split_label(fld.label)
        raw = values.get(fld.id, fld.default)
        cond = required_if(fld)
        views.append(FieldView(fld, process_text(label), process_text(fld.properties.get("help") or help_text),
                               input_value(fld, raw, zone), message(errors[fld.id]) if fld.id in errors else None,
                               _condition(cond, fields) if cond else None, labels))
    return views


def _condition(cond: tuple[str, list[str]], fields: dict[str, FormField]) -> tuple[str, list[str]]:
    """A requiredIf condition as the page says it: the other field's label and its values' option names."""
    other = fields.get(cond[0])
    if other is None:
        return cond
    names = dict(other.options)
    return process_text(split_label(other.label)[0]), [process_text(names.get(v, v)) for v in cond[1]]


def _bound_text(spec: str, later: bool) -> str:
    spec = spec.strip()
    if spec == "today":
        return gettext("不晚于今天") if later else gettext("不早于今天")
    if ":" in spec:
        label = process_text(spec.split(":", 1)[1])
        return gettext("不晚于“%(label)s”", label=label) if later else gettext("不早于“%(label)s”", label=label)
    return gettext("不晚于 %(day)s", day=spec) if later else gettext("不早于 %(day)s", day=spec)


def date_rule(props: dict, suffix: str, labels: dict[str, str]) -> str:
    """A date's bounds (engine.bpmn.form_bounds) as the form says them: 不早于今天，不晚于“期望完成时间”."""
    parts = [_bound_text(props[key + suffix], key == "maxDate") for key in ("minDate", "maxDate")
             if props.get(key + suffix)]
    unless = props.get("maxDateUnless" + suffix)
    if unless and props.get("maxDate" + suffix):
        parts[-1] += gettext("（写明“%(label)s”后可晚于）", label=labels.get(unless, unless))
    return gettext("，").join(parts)


def general_errors(form: Form, errors: dict) -> list[str]:
    """Errors that belong to no field of the form (shown above it), translated."""
    ids = {f.id for f in form.fields}
    return [f"{key}：{message(msg)}" if key else message(msg) for key, msg in errors.items() if key not in ids]


def input_value(fld: FormField, value: Any, zone: tzinfo) -> Any:
    """A value as the field's input shows it: lists for multi pickers, rows for tables, local times."""
    if value is None:
        return [] if fld.type in MULTI or fld.type == "table" else ""
    if fld.type in MULTI:
        return [str(v) for v in value] if isinstance(value, list) else [v for v in str(value).split(",") if v]
    if fld.type == "table":
        if not isinstance(value, list):
            return []
        return [{c.id: input_value(c, row.get(c.id), zone) for c in fld.columns} for row in value
                if isinstance(row, dict)]
    if fld.type == "boolean":
        return value is True or str(value).lower() in ("true", "1", "on", "yes")
    if fld.type == "datetime":
        return local_time(value, zone)
    return str(value)


def local_time(value: Any, zone: tzinfo) -> str:
    """An ISO date and time as a datetime-local input shows it: in the reader's zone, to the minute."""
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(zone)
    return moment.strftime("%Y-%m-%dT%H:%M")


def parse(form: Form, submitted, zone: tzinfo) -> dict[str, Any]:
    """The values of a submitted HTML form (a MultiDict) for the engine to validate; read-only fields
    are left out. Uploaded files are not read here: the caller stores them and adds their ids."""
    values: dict[str, Any] = {}
    for fld in form.fields:
        if fld.readonly:
            continue
        if fld.type == "table":
            values[fld.id] = _rows(fld, submitted, zone)
        elif fld.type in MULTI:
            values[fld.id] = [v.strip() for v in submitted.getlist(fld.id) if v.strip()]
        elif fld.type == "boolean":
            values[fld.id] = "true" if "true" in submitted.getlist(fld.id) else "false"
        else:
            values[fld.id] = _scalar(fld, submitted.get(fld.id, ""), zone)
    return values


def _scalar(fld: FormField, text: str, zone: tzinfo) -> str:
    text = text.strip()
    if fld.type == "datetime" and text:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return text  # the engine says what is wrong with it
        # A browser's datetime-local has no offset: it is the reader's wall clock, not the server's.
        return (moment.replace(tzinfo=zone) if moment.tzinfo is None else moment).isoformat()
    return text


def _rows(fld: FormField, submitted, zone: tzinfo) -> list[dict[str, str]]:
    """Inputs named `<table>-<row>-<column>` as rows in row order; a row left entirely empty is dropped."""
    cells: dict[int, dict[str, str]] = {}
    pattern = re.compile(rf"^{re.escape(fld.id)}-(\d+)-(.+)$")
    columns = {c.id: c for c in fld.columns}
    for name in submitted:
        found = pattern.match(name)
        if found and found.group(2) in columns:
            col = columns[found.group(2)]
            raw = submitted.getlist(name)[-1]
            cells.setdefault(int(found.group(1)), {})[col.id] = _scalar(col, raw, zone)
    rows = []
    for _n, row in sorted(cells.items()):
        kept = {k: v for k, v in row.items() if v != ""}
        if kept:
            rows.append(kept)
    return rows


def text_limit(fld: FormField) -> int:
    """The maxlength a page gives a text input: the one the engine enforces."""
    return max_length(fld) or DEFAULT_MAX_LENGTH


def date_bound(spec: str | None) -> str:
    """A date bound (engine.bpmn.form_bounds) as a date input's min/max: a fixed date, or today's in
    the organisation's time zone; "" for a bound on another field, which only the server checks."""
    if not spec:
        return ""
    if spec.strip() == "today":
        return local_date(services()).isoformat()
    try:
        return date.fromisoformat(spec.strip()).isoformat()
    except ValueError:
        return ""


def file_fields(form: Form) -> list[FormField]:
    """The fields a page takes uploads for."""
    return [f for f in form.fields if f.type in FILES and not f.readonly]


