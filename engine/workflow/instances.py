"""The commands on process instances: start, complete, claim, release, cancel, retry, fire a timer;
and the reads of one instance and one task's form. Each is one unit of work of the runner
(engine.workflow.runner); the events of its step come from engine.workflow.step."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from engine.bpmn.form_bounds import Bounds, names_people
from engine.bpmn.form_validation import step_refusals, validate_submission
from engine.bpmn.forms import Form
from engine.bpmn.runtime import XWorkflow, element_of
from engine.context import Services
from engine.db import chain as audit
from engine.db.models import InboxTask, ProcessInstance
from engine.db.tx import Tx
from engine.errors import FormInvalid, InvalidInput, NotFound, PermissionDenied, TaskNotReady
from engine.messages import Msg
from engine.org.directory import directory, local_date
from engine.workflow.access import (
    InboxRow,
    acting_for,
    inbox_row,
    ready_task,
    refuse_auditor,
    refuse_delegated,
)
from engine.workflow.reactions import Attaching, Completion, Start
from engine.workflow.runner import (
    CommandResult,
    advance,
    load_workflow,
    lock_instance,
    run_command,
    took,
)
from engine.workflow.step import completing, failed_tasks, retrying, start_data
from engine.workflow.store import InstanceRow


def start_instance(ctx: Services, process_id: str, user: str, data: dict | None = None,
                   business_key: str | None = None, context: dict | None = None,
                   prepare: Callable[[Start], None] | None = None) -> CommandResult:
    """Start the latest version of a process as `user`; data is checked against its start form.

    `context` holds values the caller vouches for (not form input), added after validation;
    `prepare` runs in the same transaction before the first step and may give the instance its
    business key and more start values (filing a request numbers it: engine.requests.requests).
    """
    if data is not None and not isinstance(data, dict):
        raise InvalidInput("data.not_object", what=Msg("what.start_data"))

    def command(tx: Tx):
        refuse_auditor(tx, user)
        version_id, version = _latest_version(tx, process_id)
        form = ctx.store.specs.start_form(tx, version_id)
        values = dict(data or {})
        if form.fields:
            values, errors = validate_submission(form, values, ZoneInfo(ctx.config.timezone),
                                                 form_bounds(ctx, form, {}))
            if errors:
                raise FormInvalid(errors)
        now = ctx.now()
        values.update(context or {})
        instance_id = str(uuid.uuid4())
        row = InstanceRow(
            id=instance_id, process_version_id=version_id, process_id=process_id,
            process_version=version, business_key=business_key, initiator=user,
            status="running", created_at=now, updated_at=now, completed_at=None, next_due_at=None,
            lock_version=1, task_seq=0, meta="{}", error=None, audit_seq=0, audit_hash=audit.GENESIS,
            stored=False)
        if prepare is not None:
            prepare(Start(ctx, tx, row, values, now))
        key = row.business_key
        wf = ctx.store.new_workflow(tx, version_id, instance_id, ctx.script_engine)
        wf.clock = ctx.clock
        start_data(wf, values, user, key)
        audit.record(tx, row, "instance_started", user, now, None, None,
                     {"process_id": process_id, "version": version, "data": values, "business_key": key})
        return row, wf, advance(ctx, tx, row, wf, user, None)

    return run_command(ctx, command)


def form_bounds(ctx: Services, form: Form, data: dict) -> Bounds:
    """What a submission's people, departments and date bounds are checked against: today's date in
    the organisation's time zone, the task's data, and (only for a form that names people or
    departments) the organisation now."""
    org = directory(ctx) if names_people(form) else None
    return Bounds(today=local_date(ctx), data=data, departments=org.departments if org else None,
                  users=org.workers if org else None)


def _latest_version(tx: Tx, process_id: str) -> tuple[int, int]:
    """Id and number of the newest deployed version of a process; new instances start on it."""
    found = tx.one("SELECT id, version FROM process_version WHERE process_id = ? ORDER BY version DESC LIMIT 1",
                   (process_id,))
    if found is None:
        raise NotFound("process.not_deployed", process=process_id)
    return found


def start_form(ctx: Services, process_id: str) -> Form:
    """The start form of the latest deployed version of a process (what starting it asks for)."""
    with ctx.db.transaction(write=False) as tx:
        version_id, _version = _latest_version(tx, process_id)
        return ctx.store.specs.start_form(tx, version_id)


def complete_task(ctx: Services, task_id: str, user: str, data: dict | None = None,
                  files: dict[str, list] | None = None) -> CommandResult:
    """Complete a user task with form data validated against its form; nothing changes on error.
    `files` (field id -> uploads) are kept by the product's `attach` reaction in the same
    transaction, so a refused form keeps none of them; the `completed` reactions run before the step."""
    if data is not None and not isinstance(data, dict):
        raise InvalidInput("data.not_object", what=Msg("what.task_data"))

    def command(tx: Tx):
        inbox = inbox_row(tx, task_id)
        refuse_auditor(tx, user)
        principal = acting_for(ctx, tx, inbox, user)
        if principal is None and user != inbox.delegated_by:  # strangers learn nothing of the task
            raise PermissionDenied("task.not_yours", user=user, task=task_id)
        refuse_delegated(inbox)
        row = lock_instance(ctx, tx, inbox.instance_id)
        wf = load_workflow(ctx, tx, row)
        task = ready_task(wf, task_id)
        form, now = task.task_spec.form, ctx.now()
        values, refused, keep_files = dict(data or {}), {}, None
        if files:
            if ctx.reactions.attach is None:
                raise InvalidInput("task.files_not_taken")
            refused, keep_files = ctx.reactions.attach(
                Attaching(ctx, tx, row, task_id, element_of(task), user, now, form, files, values))
        clean, errors = validate_submission(form, values, ZoneInfo(ctx.config.timezone),
                                            form_bounds(ctx, form, task.data))
        if form.access or any(f.readonly for f in form.fields):  # this step's field permissions
            errors.update(step_refusals(form, values, task.data,
                                        ctx.store.specs.start_form(tx, row.process_version_id)))
        if errors or refused:
            raise FormInvalid({**errors, **refused})
        if keep_files is not None:
            keep_files()
        record = {"data": clean, "form": bool(form.fields)}
        if principal != user:
            record["on_behalf_of"] = principal
        audit.record(tx, row, "task_completed", user, now, element_of(task), task_id, record)
        done = Completion(ctx, tx, row, task_id, element_of(task), user, now, form, clean, task.data)
        for react in ctx.reactions.completed:
            react(done)
        values = ctx.reactions.data_of(form, clean)

        return row, wf, advance(ctx, tx, row, wf, user, completing(task, values))

    return run_command(ctx, command)


def _inbox_command(ctx: Services, task_id: str, user: str, change: Callable[[Tx, InboxRow], str]):
    def command(tx: Tx):
        inbox = inbox_row(tx, task_id)
        refuse_auditor(tx, user)
        row = lock_instance(ctx, tx, inbox.instance_id)
        cached = ctx.store.cache.take(row.id, row.lock_version)
        took(row, cached)
        event = change(tx, inbox)
        tx.queue("UPDATE inbox_task SET assignee = ? WHERE task_id = ?", (inbox.assignee, task_id))
        audit.record(tx, row, event, user, ctx.now(), inbox.element_id, task_id, {})
        row.updated_at = ctx.now()
        return row, cached, CommandResult(row.id, row.status)

    return run_command(ctx, command)


def claim_task(ctx: Services, task_id: str, user: str) -> CommandResult:
    """Take a group task: it leaves the group's list and becomes the user's."""
    def change(tx: Tx, inbox: InboxRow) -> str:
        # Candidacy first, so a stranger does not learn who holds the task.
        if inbox.assignee != user and acting_for(ctx, tx, replace(inbox, assignee=None), user) is None:
            raise PermissionDenied("task.not_candidate", user=user, task=task_id)
        if inbox.assignee == user:
            raise InvalidInput("task.claimed_by_you", task=task_id)
        if inbox.assignee:
            raise TaskNotReady("task.claimed", task=task_id, user=inbox.assignee)
        inbox.assignee = user
        return "task_claimed"

    return _inbox_command(ctx, task_id, user, change)


def release_task(ctx: Services, task_id: str, user: str) -> CommandResult:
    """Give a claimed task back to its candidates."""
    def change(tx: Tx, inbox: InboxRow) -> str:
        if inbox.assignee != user:
            raise PermissionDenied("task.not_claimed_by", task=task_id, user=user)
        refuse_delegated(inbox)
        if not (inbox.candidate_users or inbox.candidate_groups):
            raise InvalidInput("task.no_candidates", task=task_id)
        inbox.assignee = None
        return "task_released"

    return _inbox_command(ctx, task_id, user, change)


def cancel_workflow(ctx: Services, tx: Tx, row: InstanceRow, user: str) -> tuple[XWorkflow, CommandResult]:
    """Cancel the instance's workflow in the command's transaction: its open tasks leave every inbox."""
    wf = load_workflow(ctx, tx, row)
    return wf, advance(ctx, tx, row, wf, user, None, cancelled=True)


def cancel_instance(ctx: Services, instance_id: str, user: str, reason: str = "") -> CommandResult:
    """Stop an instance; its open tasks leave every inbox."""
    def command(tx: Tx):
        row = lock_instance(ctx, tx, instance_id)
        if row.status in ("completed", "cancelled"):
            raise InvalidInput("request.ended", request=instance_id, status=Msg("status." + row.status))
        wf, result = cancel_workflow(ctx, tx, row, user)
        audit.record(tx, row, "instance_cancelled", user, ctx.now(), None, None, {"reason": reason})
        return row, wf, result

    return run_command(ctx, command)


def retry_instance(ctx: Services, instance_id: str, user: str, data: dict | None = None) -> CommandResult:
    """Run an errored instance again from the failed task, optionally with corrected data."""
    def command(tx: Tx):
        row = lock_instance(ctx, tx, instance_id)
        if row.status != "errored":
            raise InvalidInput("instance.not_errored", request=instance_id, status=Msg("status." + row.status))
        wf = load_workflow(ctx, tx, row)
        failed = failed_tasks(wf)
        audit.record(tx, row, "instance_retried", user, ctx.now(), None, None,
                     {"data": data or {}, "tasks": [element_of(t) for t in failed]})
        return row, wf, advance(ctx, tx, row, wf, user, retrying(failed, data))

    return run_command(ctx, command)


def fire_next_due(ctx: Services, now: datetime, skip: set[str]) -> CommandResult | None:
    """Claim the instance whose timer is due first (not in `skip`) and fire it, in one transaction;
    None when nothing is due. An instance that errors is returned with its error, not raised."""
    if now > ctx.now():
        # Told to fire ahead of the clock (`xiezuo timers run-due --now`): the command's events carry
        # that time too, since the audit replay fires a timer when the record says it fired.
        ctx = replace(ctx, config=replace(ctx.config, clock=lambda: now))

    def command(tx: Tx):
        row = ctx.store.next_due_row(tx, now, skip)
        if row is None:
            return None, None, None
        wf = load_workflow(ctx, tx, row)
        wf.clock = lambda: now
        result = advance(ctx, tx, row, wf, "system", None)
        wf.clock = ctx.clock
        return row, wf, result

    return run_command(ctx, command, raise_errors=False)


def describe_instance(ctx: Services, instance_id: str) -> dict:
    """An instance's status, open tasks and history, for people and scripts."""
    from engine.db.models import AuditEvent
    from engine.workflow.access import task_row

    with ctx.db.read() as s:
        row = s.get(ProcessInstance, instance_id)
        if row is None:
            raise NotFound("request.unknown", request=instance_id)
        tasks = s.scalars(select(InboxTask).where(InboxTask.instance_id == instance_id)
                          .order_by(InboxTask.created_at)).all()
        events = s.scalars(select(AuditEvent).where(AuditEvent.instance_id == instance_id)
                           .order_by(AuditEvent.seq)).all()
        return {
            "id": row.id, "process_id": row.process_id, "version": row.process_version,
            "business_key": row.business_key, "initiator": row.initiator, "status": row.status,
            "created_at": row.created_at.isoformat(),
            "completed_at": row.completed_at.isoformat() if row.completed_at else None,
            "next_due_at": row.next_due_at.isoformat() if row.next_due_at else None,
            "error": json.loads(row.error) if row.error else None,
            "open_tasks": [task_row(t) for t in tasks],
            "history": [{"seq": e.seq, "type": e.event_type, "actor": e.actor, "at": e.at.isoformat(),
                         "element_id": e.element_id, "task_id": e.task_id, "data": json.loads(e.data)}
                        for e in events],
        }


def task_form(ctx: Services, task_id: str, user: str, inbox: InboxRow | None = None) -> dict:
    """A ready task's form, current data and the values its form opens with, for the user who may
    complete it; `inbox`: its inbox row when the caller read it already."""
    with ctx.db.transaction(write=False) as tx:
        inbox = inbox or inbox_row(tx, task_id)
        if acting_for(ctx, tx, inbox, user) is None:
            raise PermissionDenied("task.not_yours", user=user, task=task_id)
        row = ctx.store.row(tx, inbox.instance_id)
        wf = load_workflow(ctx, tx, row)
        try:
            task = ready_task(wf, task_id)
            form = task.task_spec.form
            data = form.without_hidden(json.loads(json.dumps(task.data, default=str)))  # never sent
            return {"task_id": task_id, "element_id": element_of(task), "name": inbox.task_name,
                    "form": form.to_dict(), "data": data, "values": form.opening_values(data, user)}
        finally:
            ctx.store.remember(row.id, row.lock_version, wf)
