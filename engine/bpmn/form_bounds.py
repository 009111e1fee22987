"""What a submitted value may be beyond its type: how long, how many, which people and departments,
and which dates.

Every text has a length limit (the field's `maxlength`, else DEFAULT_MAX_LENGTH), every list and
table a count limit, so no form stores megabytes. People and departments must exist (people active
and able to take work: auditors read and change nothing). A date field's `minDate` / `maxDate`
property, or a table's `minDate.<column>` / `maxDate.<column>`, is one of
- an ISO date: a fixed bound;
- `today`: the organisation's date when the form is submitted;
- `field_id:标签`: the value of that field in the same submission or in the task data (the label
  names it in the message), e.g. `expected_date:期望完成时间`.
`maxDateUnless` (or `maxDateUnless.<column>`) names a field of the form: when it is filled in (the
reason why), the `maxDate` bound does not apply.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from engine.messages import Msg

DEFAULT_MAX_LENGTH = 20_000  # characters of a text whose diagram gives no maxlength
DEFAULT_MAX_ITEMS = 200  # people, departments or files one field may name
DEFAULT_MAX_ROWS = 500  # rows of a table
MAX_NAME_LENGTH = 255  # a person's, department's or file's id
TEXT_TYPES = ("string", "text")


@dataclass(frozen=True)
class Bounds:
    """What the bounds of one submission are checked against; None: that check is not made."""

    today: date | None = None  # the organisation's date of the submission
    data: Mapping[str, Any] = field(default_factory=dict)  # values a date bound may name (the task data)
    departments: Collection[str] | None = None  # ids of the departments that exist
    users: Collection[str] | None = None  # ids of the people who can be given work


PEOPLE_TYPES = ("user", "users", "department", "departments")


def names_people(form) -> bool:
    """Whether a form has a field (or a table column) naming people or departments."""
    return any(f.type in PEOPLE_TYPES or any(c.type in PEOPLE_TYPES for c in f.columns) for f in form.fields)


def max_length(fld) -> int | None:
    """The most characters a text field (or column) takes."""
    if fld.maxlength is not None:
        return fld.maxlength
    if fld.type in TEXT_TYPES:
        return DEFAULT_MAX_LENGTH
    return MAX_NAME_LENGTH if fld.type in ("user", "department", "file") else None


def max_items(fld) -> int:
    """The most entries a list field or rows a table takes."""
    if fld.maxlength is not None:
        return fld.maxlength
    return DEFAULT_MAX_ROWS if fld.type == "table" else DEFAULT_MAX_ITEMS


def check_names(fld, value: Any, bounds: Bounds) -> Msg | None:
    """A person or department that does not exist (or may not take work), named; else None."""
    kind = fld.type.rstrip("s")
    known = bounds.users if kind == "user" else bounds.departments if kind == "department" else None
    if known is None:
        return None
    for name in value if isinstance(value, list) else [value]:
        if len(str(name)) > MAX_NAME_LENGTH:
            return Msg("field.too_long", most=MAX_NAME_LENGTH)
        if name not in known:
            return Msg("field.not_worker", given=str(name)) if kind == "user" \
                else Msg("field.not_department", given=str(name))
    return None


def _bound(spec: str | None, bounds: Bounds, values: Mapping[str, Any]) -> tuple[str, str] | None:
    """(ISO date, how the message names it) of a bound, or None when it has no value now."""
    if not spec:
        return None
    spec = spec.strip()
    if spec == "today":
        return (bounds.today.isoformat(), "today") if bounds.today else None
    name, _, label = spec.partition(":")
    if name in values or name in bounds.data:
        found = values.get(name, bounds.data.get(name))
        if found in (None, ""):
            return None
        return str(found)[:10], label.strip() or name
    try:
        return date.fromisoformat(spec).isoformat(), ""
    except ValueError:
        return None  # a field not filled in yet: no bound


def check_date(props: Mapping[str, str], suffix: str, value: str, bounds: Bounds,
               values: Mapping[str, Any], labels: Mapping[str, str]) -> Msg | None:
    """The message for a date outside its bounds (the `minDate`/`maxDate` properties, with
    `suffix` ".column" for a table's column), else None."""
    day = value[:10]
    low = _bound(props.get("minDate" + suffix), bounds, values)
    if low and day < low[0]:
        return _message(True, low)
    high = _bound(props.get("maxDate" + suffix), bounds, values)
    unless = props.get("maxDateUnless" + suffix)
    if high and day > high[0] and not (unless and str(values.get(unless) or "").strip()):
        if unless:
            return Msg("field.late_unless", problem=_message(False, high), reason_field=labels.get(unless, unless))
        return _message(False, high)
    return None


def _message(low: bool, bound: tuple[str, str]) -> Msg:
    day, name = bound
    if name == "today":
        return Msg("field.before_today" if low else "field.after_today", day=day)
    if name:
        return Msg("field.before_field" if low else "field.after_field", field=name, day=day)
    return Msg("field.before_day" if low else "field.after_day", day=day)
