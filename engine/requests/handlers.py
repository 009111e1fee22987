"""The collaboration's reactions to its workflows: what the core calls when a task completes
(engine.workflow.reactions), wired by engine.bootstrap.

- the values a form field marks as a record (feedback, progress, minutes, ...) are kept as rows of
  their own, in the command's transaction: the request's history lives there, and the task data,
  copied into every later task and stored with each, keeps only what routes the flow or a later
  task shows (data="true");
- the files sent with a completion become attachments of the request in the same transaction: a
  form that is refused keeps none of them;
- a dispatch (a completion naming `lead_dept`) puts the lead department on the request's summary,
  which lists and filters show, and on its lessons' facets.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from engine.bpmn.forms import FILE_TYPES
from engine.context import Services
from engine.db import chain as audit
from engine.errors import InvalidInput
from engine.knowledge import lessons
from engine.messages import Msg
from engine.org.calendar import load_calendar
from engine.requests.attachments import check_upload, write_attachment
from engine.requests.record_forms import form_records, store_form_records, task_data_values
from engine.requests.record_rows import Origin
from engine.workflow.reactions import Attaching, Completion, Reactions


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


def attach_files(a: Attaching) -> tuple[dict[str, Msg], Callable[[], None]]:
    """Check every file first (nothing is written while one is refused), then write their rows and
    events; a file field's value becomes the new attachment's id, a files field's gains the new ids.
    The bytes of files kept on disk are written by the returned function, once the form is valid."""
    fields = {f.id: f for f in a.form.fields}
    errors: dict[str, Msg] = {}
    checked: dict[str, list] = {}
    for field_id, uploads in a.files.items():
        if field_id not in fields or fields[field_id].type not in FILE_TYPES:
            errors[field_id] = Msg("field.unknown")
            continue
        for upload in uploads:
            try:
                checked.setdefault(field_id, []).append(check_upload(a.ctx, upload))
            except InvalidInput as exc:
                errors[field_id] = exc.msg
    if errors:
        return errors, lambda: None
    origin = Origin(a.user, a.now, a.task_id, a.element_id)
    writes = []
    for field_id, files in checked.items():
        added = []
        for each in files:
            rid, event, write = write_attachment(a.ctx, a.tx, a.row, origin, each, on_disk_now=False)
            audit.record(a.tx, a.row, "attachment_added", a.user, a.now, a.element_id, a.task_id, event)
            added.append(str(rid))
            writes.append(write)
        value = a.values.get(field_id)
        a.values[field_id] = added[-1] if fields[field_id].type == "file" else [*(value or []), *added]
    return {}, lambda: [write() for write in writes]


def plan_task_subject(data: dict) -> str | None:
    """What a task is about: the title of the plan task it executes or accepts (the plan's
    multi-instance execution gives each its row as `plan_task`)."""
    plan_task = data.get("plan_task")
    return plan_task.get("title") if isinstance(plan_task, dict) else None


def working_days(ctx: Services, start: datetime, n: int) -> datetime:
    """n working days after `start` by the organisation's calendar (China's, with the admins' rulings)."""
    return load_calendar(ctx).add_working_days(start, n)


def reactions() -> Reactions:
    return Reactions(completed=(store_records, dispatched), task_data=task_data_values, attach=attach_files,
                     subject=plan_task_subject, working_days=working_days)
