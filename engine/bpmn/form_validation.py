"""Submitted data checked against a form: each value coerced to its field's type and held to its limits
and bounds (engine.bpmn.form_bounds), the JSON types an API body must have, required-if conditions."""

from __future__ import annotations

import re
from datetime import tzinfo
from typing import Any

from engine.bpmn.form_bounds import Bounds, check_date, check_names, max_items, max_length
from engine.bpmn.forms import MULTI_TYPES, FieldError, Form, FormField, coerce, is_empty, required_if
from engine.messages import Msg

_NOT_TEXT = {"long": "json.not_integer", "double": "json.not_number", "boolean": "json.not_boolean",
             "table": "json.not_rows"}


def json_type_errors(form: Form, data: dict[str, Any]) -> dict[str, Msg]:
    """The values of a JSON body that have the wrong type for their fields (an API caller sends each
    value as its type; a page sends text, which validate_submission converts). Null is a left-out value."""
    errors: dict[str, Msg] = {}
    for fld in form.fields:
        value = data.get(fld.id)
        if value is None:
            continue
        if fld.type == "long":
            fits = isinstance(value, int) and not isinstance(value, bool)
        elif fld.type == "double":
            fits = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif fld.type == "boolean":
            fits = isinstance(value, bool)
        elif fld.type == "table":
            fits = isinstance(value, list) and all(isinstance(row, dict) for row in value)
        elif fld.type in MULTI_TYPES:
            fits = isinstance(value, list) and all(isinstance(item, str) for item in value)
        else:
            fits = isinstance(value, str)
        if not fits:
            errors[fld.id] = Msg(_NOT_TEXT.get(fld.type) or ("json.not_ids" if fld.type in MULTI_TYPES
                                                             else "json.not_text"))
    return errors


def validate_submission(form: Form, data: dict[str, Any], zone: tzinfo | None = None,
                        bounds: Bounds | None = None) -> tuple[dict[str, Any], dict[str, Msg]]:
    """Check submitted data against the form; return (clean values, errors per field id).
    `bounds` holds what people, departments and date bounds are checked against (form_bounds)."""
    bounds = bounds or Bounds()
    clean: dict[str, Any] = {}
    errors: dict[str, Msg] = {}
    known = {f.id for f in form.fields}
    for key in data:
        if key not in known and form.fields:
            errors[key] = Msg("field.unknown")
    for fld in form.fields:
        if fld.readonly:
            continue
        raw = data.get(fld.id)
        if fld.id not in data and fld.default is not None:
            clean[fld.id] = fld.default  # a field left out takes its default, as the form would show it
            continue
        if is_empty(raw):
            if fld.required:
                errors[fld.id] = Msg("field.required")
            elif fld.type == "boolean" and fld.id in data:
                clean[fld.id] = False
            continue
        try:
            value = coerce(fld, raw, zone)
        except FieldError as exc:
            errors[fld.id] = exc.msg
            continue
        problem = _check_limits(fld, value) or check_names(fld, value, bounds)
        if problem:
            errors[fld.id] = problem
        else:
            clean[fld.id] = value
    # Dates last: a bound may name another field of the same submission.
    labels = {f.id: f.label for f in form.fields}
    for fld in form.fields:
        if fld.id in clean and not fld.readonly:
            problem = _check_dates(fld, clean[fld.id], bounds, clean, labels)
            if problem:
                errors[fld.id] = problem
                del clean[fld.id]
    for fld in form.fields:
        cond = required_if(fld)
        if cond and fld.id not in errors and is_empty(clean.get(fld.id)) and str(clean.get(cond[0])) in cond[1]:
            label = next((f.label for f in form.fields if f.id == cond[0]), cond[0])
            errors[fld.id] = Msg("field.required_if", field=label, value=str(clean.get(cond[0])))
    return clean, errors


def step_refusals(form: Form, data: dict[str, Any], current: dict[str, Any],
                  request: Form | None = None) -> dict[str, Msg]:
    """What a step's field permissions refuse in a submission: a read-only field sent with a value
    other than the one it holds, a hidden field sent at all; each named by its label on the step's
    form or the `request`'s (its start form), without the guidance in brackets, else by its id."""
    labels = {f.id: f.label.split("（")[0].strip() or f.id
              for f in [*(request.fields if request else []), *form.fields]}
    readonly = {f.id for f in form.fields if f.readonly} | {k for k, v in form.access.items() if v == "readonly"}
    found: dict[str, Msg] = {}
    for key, value in data.items():
        if key in form.hidden:
            found[key] = Msg("field.hidden_here", field=labels.get(key, key))
        elif key in readonly and value != current.get(key):
            found[key] = Msg("field.read_only_here", field=labels.get(key, key))
    return found


def _check_dates(fld: FormField, value: Any, bounds: Bounds, values: dict, labels: dict) -> Msg | None:
    """A date outside its bounds, or a table cell breaking its column's limits, named."""
    if fld.type in ("date", "datetime"):
        return check_date(fld.properties, "", value, bounds, values, labels)
    if fld.type != "table":
        return None
    for n, row in enumerate(value, start=1):
        for col in fld.columns:
            cell = row.get(col.id)
            if cell is None:
                continue
            problem = _check_limits(col, cell) or check_names(col, cell, bounds)
            if problem is None and col.type in ("date", "datetime"):
                problem = check_date(fld.properties, f".{col.id}", cell, bounds, {**values, **row}, labels)
            if problem:
                return Msg("field.row_cell", row=n, column=col.label, problem=problem)
    return None


def _check_limits(fld: FormField, value: Any) -> Msg | None:
    if isinstance(value, str) and fld.type not in ("date", "datetime"):
        longest = max_length(fld)
        if fld.minlength is not None and len(value) < fld.minlength:
            return Msg("field.too_short", least=fld.minlength)
        if longest is not None and len(value) > longest:
            return Msg("field.too_long", most=longest)
        if fld.pattern and not re.fullmatch(fld.pattern, value):
            return Msg("field.pattern", pattern=fld.pattern)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if fld.min is not None and value < fld.min:
            return Msg("field.below_min", least=_num(fld.min))
        if fld.max is not None and value > fld.max:
            return Msg("field.above_max", most=_num(fld.max))
    if isinstance(value, list):
        rows, most = fld.type == "table", max_items(fld)
        if fld.minlength is not None and len(value) < fld.minlength:
            return Msg("field.rows_too_few" if rows else "field.choose_more", least=fld.minlength)
        if len(value) > most:
            return Msg("field.rows_too_many" if rows else "field.choose_fewer", most=most)
    return None


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)
