"""The collaboration's reactions to its workflows: what the core calls when a task completes
(engine.workflow.reactions), wired by engine.bootstrap.

- the values a form field marks as a record (feedback, progress, minutes, ...) are kept as rows of
  their own, in the command's transaction: the request's history lives there, and the task data,
  copied into every later task and stored with each, keeps only what routes the flow or a later
  task shows (data="true");
- a dispatch (a completion naming `lead_dept`) puts the lead department on the request's summary,
  which lists and filters show, and on its lessons' facets.
"""

from __future__ import annotations

from engine.knowledge import lessons
from engine.requests.record_forms import form_records, store_form_records, task_data_values
from engine.workflow.reactions import Completion, Reactions


def store_records(c: Completion) -> None:
    records = form_records(c.form, c.values, c.task_data)
    if records:
        store_form_records(c.tx, c.row, c.task_id, c.element_id, c.user, c.now, records,
                           timezone=c.ctx.config.timezone)


def dispatched(c: Completion) -> None:
    lead = c.values.get("lead_dept")
    if lead:
        c.tx.queue("UPDATE request_summary SET lead_dept = ? WHERE instance_id = ?", (lead, c.row.id))
        lessons.request_dispatched(c.tx, c.row.id, c.row.business_key, lead)


def reactions() -> Reactions:
    return Reactions(completed=(store_records, dispatched), task_data=task_data_values)
