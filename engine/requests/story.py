"""A request's story as its pages tell it: the request as filed (as revised when it came back for
supplement) and every step people took since, each with its form and the values they gave, oldest
first. A task page shows it above its form, the steps it decides on open; the request page opens
with the request itself.

Which earlier steps a step decides on (DECIDES_ON) is the collaboration flow's knowledge; for an
element it does not name (another diagram), the latest step done is the one shown open.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime

from engine.bpmn.forms import FILE_TYPES, Form
from engine.context import Services
from engine.db.tx import Tx
from engine.errors import NotFound
from engine.workflow.elements import version_specs

# Steps that ask the start form's fields again: what they submit revises the request as filed.
REVISING = frozenset({"revise_request"})

# What each step of the collaboration flow and its conflict subprocess decides on: the earlier
# steps whose outcome its performer needs in view (an objection and the answer to it, the
# departments' feedback under the plan, the plan under its approval, the positions under a conflict).
DECIDES_ON: dict[str, tuple[str, ...]] = {
    "dept_head_signoff": (),
    "revise_request": ("dept_head_signoff", "admin_review"),
    "admin_review": ("dept_head_signoff",),
    "dispatch_lead": ("admin_review", "lead_confirm"),
    "lead_confirm": ("dispatch_lead",),
    "collect_feedback": ("dispatch_lead",),
    "organise_coordination": ("collect_feedback",),
    "send_meeting_notice": ("organise_coordination",),
    "record_minutes": ("send_meeting_notice",),
    "write_plan": ("collect_feedback", "record_minutes", "approve_plan"),
    "approve_plan": ("collect_feedback", "record_minutes", "write_plan"),
    "execute_task": ("approve_plan",),
    "accept_deliverable": (),
    "archive_request": ("approve_plan",),
    "rate_satisfaction": (),
    "retrospective": ("rate_satisfaction",),
    "distill_lessons": ("retrospective",),
    "classify_conflict": ("lead_confirm",),
    "state_positions": ("classify_conflict",),
    "propose_solution": ("classify_conflict", "state_positions"),
    "confirm_solution": ("state_positions", "propose_solution"),
    "record_action_items": ("propose_solution", "confirm_solution"),
    "arbitrate": ("state_positions", "propose_solution", "confirm_solution"),
}


@dataclass
class Done:
    """One step a person took: the element, its name in the diagram, who (for whom), when, its form
    and the values given (only the step's own fields: what its form showed read-only is not its word)."""

    element_id: str
    name: str
    actor: str
    on_behalf_of: str | None
    at: datetime
    task_id: str | None
    form: Form
    values: dict

    @property
    def given(self) -> list:
        """The step's own fields that were given a value, in form order."""
        return [f for f in self.form.fields if not f.readonly and f.id in self.values]


@dataclass
class Story:
    """The request as filed and the steps since; `files`: the request's attachment names by id."""

    form: Form
    filed: dict
    steps: list[Done]
    multi: set[str] = field(default_factory=set)
    files: dict[str, str] = field(default_factory=dict)

    def without(self, hidden: frozenset[str]) -> Story:
        """The story as a step that hides the fields `hidden` may tell it: those fields left out of
        the request and of every step."""
        if not hidden:
            return self

        def keep(form: Form) -> Form:
            return Form([f for f in form.fields if f.id not in hidden], form.key, form.access)

        steps = [replace(s, form=keep(s.form), values={k: v for k, v in s.values.items() if k not in hidden})
                 for s in self.steps]
        return replace(self, form=keep(self.form), filed={k: v for k, v in self.filed.items() if k not in hidden},
                       steps=steps)

    def deciding(self, element_id: str) -> list[Done]:
        """The steps `element_id` decides on, oldest first: of each element it names, the latest
        completion (every completion of a multi-instance step since the latest round began, e.g.
        each department's feedback); for an element DECIDES_ON does not name, the latest step."""
        if element_id not in DECIDES_ON:
            return self.steps[-1:]
        chosen: list[Done] = []
        for element in DECIDES_ON[element_id]:
            done = [s for s in self.steps if s.element_id == element]
            if not done:
                continue
            if element in self.multi:  # one round: those after the latest other step's completion before them
                last = self.steps.index(done[-1])
                first = last
                while first > 0 and self.steps[first - 1].element_id == element:
                    first -= 1
                chosen.extend(self.steps[first:last + 1])
            else:
                chosen.append(done[-1])
        return sorted(chosen, key=lambda s: s.at)


def story(ctx: Services, instance_id: str) -> Story:
    """The story of request `instance_id` (for a reader already allowed onto it). Its version and its
    events are read in one statement; its attachments' names only when a value names a file."""
    with ctx.db.transaction(write=False) as tx:
        found = tx.all("SELECT p.process_version_id, e.event_type, e.actor, e.at, e.element_id, e.task_id, e.data "
                       "FROM process_instance p LEFT JOIN audit_event e ON e.instance_id = p.id AND e.event_type IN "
                       "('instance_started', 'task_completed') WHERE p.id = ? ORDER BY e.seq", (str(instance_id),))
        if not found:
            raise NotFound("request.unknown", request=instance_id)
        specs = version_specs(ctx, tx, found[0][0])
        start = specs.forms.get("", Form())
        asked = {f.id for f in start.fields}
        filed: dict = {}
        steps: list[Done] = []
        for _version, kind, actor, at, element, task_id, data in found:
            if kind is None:
                continue
            values = json.loads(data)
            given = dict(values.get("data") or {})
            if kind == "instance_started":
                filed = given
                continue
            if element in REVISING:
                filed.update({k: v for k, v in given.items() if k in asked})
            steps.append(Done(element or "", specs.names.get(element or "", element or ""), actor,
                              values.get("on_behalf_of"), Tx.when(at), task_id,
                              specs.forms.get(element or "", Form()), given))
        named = any(f.type in FILE_TYPES and filed.get(f.id) for f in start.fields) or any(
            f.type in FILE_TYPES and s.values.get(f.id) for s in steps for f in s.form.fields)
        files = {str(aid): name for aid, name in tx.all(
            "SELECT id, filename FROM attachment WHERE instance_id = ?", (str(instance_id),))} if named else {}
    return Story(start, filed, steps, set(specs.multi), files)
