"""Engine forms as HTML inputs, and submitted HTML form data back into the values the engine validates.

One module for the start form and every task form. `field_views` prepares what the macros of
templates/work/_fields.html draw; `parse` reads a submitted form. Validation stays in the engine:
`parse` only reshapes (a table's indexed inputs into rows, a local date and time into ISO 8601
with the reader's offset) and `error_text` puts the engine's messages into the reader's language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from flask_babel import gettext as _

from engine.bpmn.form_bounds import DEFAULT_MAX_LENGTH, max_length
from engine.bpmn.forms import Form, FormField, required_if
from engine.org.directory import Directory, local_date
from engine.requests.attachments import TYPES
from webui.extensions import services
from webui.i18n import process_text, split_label

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
    users = [(uid, f"{u['name']}（{dept_names[u['department_id']]}）" if u["department_id"] in dept_names
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
    def column_labels(self) -> dict[str, str]:
        """A table's column labels in the reader's language, by column id."""
        return {c.id: process_text(c.label) for c in self.field.columns}


def field_views(form: Form, values: dict, errors: dict[str, str], zone: tzinfo) -> list[FieldView]:
    """The fields of `form` with `values` (a field left out shows its default), labels, guidance and errors
    in the reader's language (the values stay as they are stored)."""
    fields = {f.id: f for f in form.fields}
    views = []
    for fld in form.fields:
        label, help_text = split_label(fld.label)
        raw = values.get(fld.id, fld.default)
        cond = required_if(fld)
        views.append(FieldView(fld, process_text(label), process_text(fld.properties.get("help") or help_text),
                               input_value(fld, raw, zone), error_text(errors[fld.id]) if fld.id in errors else None,
                               _condition(cond, fields) if cond else None))
    return views


def _condition(cond: tuple[str, list[str]], fields: dict[str, FormField]) -> tuple[str, list[str]]:
    """A requiredIf condition as the page says it: the other field's label and its values' option names."""
    other = fields.get(cond[0])
    if other is None:
        return cond
    names = dict(other.options)
    return process_text(split_label(other.label)[0]), [process_text(names.get(v, v)) for v in cond[1]]


def general_errors(form: Form, errors: dict[str, str]) -> list[str]:
    """Errors that belong to no field of the form (shown above it), translated."""
    ids = {f.id for f in form.fields}
    return [f"{key}：{error_text(msg)}" if key else error_text(msg) for key, msg in errors.items() if key not in ids]


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


# The engine's messages (engine.bpmn.forms) in the reader's language; others are shown as they come.
_MESSAGES: list[tuple[re.Pattern, Any]] = [
    (re.compile(r"^required$"), lambda m: _("必填")),
    (re.compile(r"^required when (.+) is (.*)$"), lambda m: _("“%(label)s”为“%(value)s”时必填",
                                                            label=process_text(split_label(m[1])[0]),
                                                            value=process_text(m[2]))),
    # Date bounds (engine.bpmn.form_bounds), before the plain "must be on or after" below.
    (re.compile(r"^must not be before today \((.+)\)$"), lambda m: _("不能早于今天（%(d)s）", d=m[1])),
    (re.compile(r"^must not be after today \((.+)\)$"), lambda m: _("不能晚于今天（%(d)s）", d=m[1])),
    (re.compile(r"^must be on or after (.+) \((\d{4}-\d\d-\d\d)\)$"),
     lambda m: _("不能早于“%(label)s”（%(d)s）", label=_field_label(m[1]), d=m[2])),
    (re.compile(r"^must be on or before (.+) \((\d{4}-\d\d-\d\d)\), or give the reason in (.+)$"),
     lambda m: _("不能晚于“%(label)s”（%(d)s）；确需晚于时，请填写“%(why)s”", label=_field_label(m[1]), d=m[2],
                 why=_field_label(m[3]))),
    (re.compile(r"^must be on or before (.+) \((\d{4}-\d\d-\d\d)\)$"),
     lambda m: _("不能晚于“%(label)s”（%(d)s）", label=_field_label(m[1]), d=m[2])),
    (re.compile(r"^'(.*)' is not an active user who can take work$", re.S),
     lambda m: _("“%(v)s”不是可以接收任务的在职人员", v=m[1])),
    (re.compile(r"^'(.*)' is not a department$", re.S), lambda m: _("“%(v)s”不是已有的部门", v=m[1])),
    (re.compile(r"^at least (\d+) characters$"), lambda m: _("至少 %(n)s 个字", n=m[1])),
    (re.compile(r"^at most (\d+) characters$"), lambda m: _("最多 %(n)s 个字", n=m[1])),
    (re.compile(r"^does not match the pattern .*$"), lambda m: _("格式不正确")),
    (re.compile(r"^must be at least (.+)$"), lambda m: _("不能小于 %(n)s", n=m[1])),
    (re.compile(r"^must be at most (.+)$"), lambda m: _("不能大于 %(n)s", n=m[1])),
    (re.compile(r"^must be on or after (.+)$"), lambda m: _("不能早于 %(d)s", d=m[1])),
    (re.compile(r"^must be on or before (.+)$"), lambda m: _("不能晚于 %(d)s", d=m[1])),
    (re.compile(r"^at least (\d+) rows$"), lambda m: _("至少填写 %(n)s 行", n=m[1])),
    (re.compile(r"^at most (\d+) rows$"), lambda m: _("最多填写 %(n)s 行", n=m[1])),
    (re.compile(r"^choose at least (\d+)$"), lambda m: _("至少选择 %(n)s 项", n=m[1])),
    (re.compile(r"^choose at most (\d+)$"), lambda m: _("最多选择 %(n)s 项", n=m[1])),
    (re.compile(r"^'.*' is not a whole number$", re.S), lambda m: _("请填写整数")),
    (re.compile(r"^'.*' is not a number$", re.S), lambda m: _("请填写数字")),
    (re.compile(r"^'.*' is not a date \(YYYY-MM-DD\)$", re.S), lambda m: _("请填写日期（年-月-日）")),
    (re.compile(r"^'.*' is not a date and time", re.S), lambda m: _("请填写日期和时间")),
    (re.compile(r"^'.*' is not one of ", re.S), lambda m: _("请从选项中选择")),
    (re.compile(r"^'.*' is not true or false$", re.S), lambda m: _("请选择是或否")),
    (re.compile(r"^must be a list of rows$"), lambda m: _("表格数据无效")),
    (re.compile(r"^not a field of this form$"), lambda m: _("不是此表单的字段")),
    (re.compile(r"^row (\d+): '(.+)' is not a column$"),
     lambda m: _("第 %(n)s 行：%(c)s 不是表格的列", n=m[1], c=m[2])),
    (re.compile(r"^row (\d+), (.+?): (.+)$", re.S), lambda m: _("第 %(n)s 行，%(column)s：%(message)s",
                                                                n=m[1], column=process_text(m[2]),
                                                                message=error_text(m[3]))),
]


# The engine's refusals of operations (engine.tasks.operations, .org) a page can provoke.
_MESSAGES += [
    (re.compile(r"^.+ is required$"), lambda m: _("必填")),
    (re.compile(r"^.+ is too long \((\d+) characters, at most (\d+)\)$"),
     lambda m: _("太长（%(n)s 字，最多 %(limit)s 字）", n=m[1], limit=m[2])),
    (re.compile(r"^user '?(.+?)'? does not exist$"), lambda m: _("用户 %(user)s 不存在", user=m[1])),
    (re.compile(r"^user (.+) is not active$"), lambda m: _("用户 %(user)s 已停用", user=m[1])),
    (re.compile(r"^task \S+ cannot be handed to (.+): auditors read and change nothing"),
     lambda m: _("所选的人是审计员：审计员只查看、不更改，任务不能交给审计员")),
    (re.compile(r"^task \S+ cannot be handed to (.+): it is theirs already$"),
     lambda m: _("任务已经由 %(user)s 处理", user=m[1])),
    (re.compile(r"^task \S+ is offered to a group: claim it before delegating it$"),
     lambda m: _("这是组任务，请先认领再委派")),
    (re.compile(r"^task \S+ is not delegated$"), lambda m: _("此任务不是委派任务")),
    (re.compile(r"^name at least one user to copy the task to$"), lambda m: _("请至少选择一位抄送人")),
    (re.compile(r"^a task can be copied to at most (\d+) users at once$"),
     lambda m: _("一次最多抄送 %(n)s 人", n=m[1])),
    (re.compile(r"^a task cannot be copied to yourself$"), lambda m: _("不能抄送给自己")),
    (re.compile(r"^\S+ urged task \S+ at (.+); it can be urged again from (.+)$"),
     lambda m: _("已于 %(at)s 催办，%(again)s 起可再次催办", at=m[1], again=m[2])),
    (re.compile(r"^nobody but \S+ is waited on for task \S+$"), lambda m: _("此任务只等您本人处理，无需催办")),
    (re.compile(r"^request (\S+) is already (completed|cancelled)$"), lambda m: _("需求 %(n)s 已结束", n=m[1])),
    (re.compile(r"^request (\S+) can no longer be withdrawn: (\S+) already acted on it \((\S+) at (.+)\)$"),
     lambda m: _("需求 %(n)s 已有人处理（%(user)s，%(at)s），不能撤回", n=m[1], user=m[2], at=m[4])),
    (re.compile(r"^the absence ends \((.+)\) before it starts \((.+)\)$"),
     lambda m: _("结束日期（%(end)s）早于开始日期（%(start)s）", end=m[1], start=m[2])),
    (re.compile(r"^a user cannot substitute themselves$"), lambda m: _("不能指定自己为代理人")),
    (re.compile(r"^(\S+) already has a substitute from (\S+) to (\S+)", re.S),
     lambda m: _("%(user)s 在 %(start)s 至 %(end)s 已有代理人", user=m[1], start=m[2], end=m[3])),
]


def _field_label(text: str) -> str:
    return process_text(split_label(text)[0])


def error_text(message: str) -> str:
    """An engine validation message in the reader's language."""
    for pattern, text in _MESSAGES:
        found = pattern.match(message)
        if found:
            return text(found)
    return message
