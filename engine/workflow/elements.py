"""What a process version's specs say of its elements: names, forms, field labels, which are
multi-instance and which process holds each; read once per version from the cached specs."""

from __future__ import annotations

from dataclasses import dataclass, field

from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask

from engine.bpmn.forms import Form
from engine.context import Services
from engine.db.tx import Tx


@dataclass
class VersionSpecs:
    """What a process version's specs say of its elements."""

    names: dict[str, str] = field(default_factory=dict)  # element id -> name
    labels: dict[str, dict[str, str]] = field(default_factory=dict)  # element ("" = start form) -> field -> label
    forms: dict[str, Form] = field(default_factory=dict)  # element ("" = start form) -> its form, when it has fields
    columns: dict[str, dict[str, str]] = field(default_factory=dict)  # table field -> column -> label
    multi: set[str] = field(default_factory=set)  # multi-instance elements
    process_of: dict[str, str] = field(default_factory=dict)  # element id -> process id holding it


def version_specs(ctx: Services, tx: Tx, version_id: int) -> VersionSpecs:
    """Names, forms, form labels, multi-instance elements and processes of a version's elements."""
    spec, subs = ctx.store.specs.get(tx, version_id)
    found = VersionSpecs()
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
                found.forms.setdefault(bpmn_id, form)
                found.labels.setdefault(bpmn_id, {}).update({f.id: f.label for f in form.fields})
                _columns(found, form)
            if isinstance(ts, MultiInstanceTask):
                found.multi.add(bpmn_id)
    start = ctx.store.specs.start_form(tx, version_id)
    found.labels[""] = {f.id: f.label for f in start.fields}
    _columns(found, start)
    if start.fields:
        found.forms[""] = start
    return found


def _columns(found: VersionSpecs, form: Form) -> None:
    for f in form.fields:
        if f.columns:
            found.columns.setdefault(f.id, {}).update({c.id: c.label for c in f.columns})
