"""The command runner: every command that changes an instance runs here, one unit of work each.

`run_command(ctx, command)` opens the transaction, reads the organisation once, runs `command(tx)`
(which locks its instance with `lock_instance`, loads it with `load_workflow` and moves it with
`advance`, or changes it beside its diagram), writes the notices the command queued, then the
instance row and everything queued, and caches the workflow only once it committed. A step too
large to save leaves its instance errored where it was.

`advance` runs one step (engine.workflow.step) and `write_step` stores what it did: the inbox rows
of the tasks that left and opened, their audit events, the instance's status and state.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

from engine.bpmn.runtime import XWorkflow, element_of
from engine.bpmn.timers import waiting_timers
from engine.context import Services
from engine.db import chain as audit
from engine.db.models.workflow import CANDIDATE_INSERT, INBOX_INSERT
from engine.db.tx import Tx
from engine.errors import CommandTooLarge, InstanceErrored, StaleInstance
from engine.messages import Msg
from engine.org import scope as org_scope
from engine.org.directory import AUDITORS, directory, local_date
from engine.org.scope import org_snapshot
from engine.workflow.access import members
from engine.workflow.assignment import resolve
from engine.workflow.notices import (
    collecting_notifications,
    notes_to_write,
    notify_new_task,
    running_instance,
    write_notices,
)
from engine.workflow.step import READY, Outcome, assignment, before, opened_events, outcome, take_step, user_tasks
from engine.workflow.store import InstanceRow


@dataclass
class CommandResult:
    """What a command did: the instance's status afterwards and the bytes its save wrote."""

    instance_id: str
    status: str
    bytes_written: int = 0
    error: dict | None = None
    opened_tasks: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return self.__dict__.copy()


def lock_instance(ctx: Services, tx: Tx, instance_id: str) -> InstanceRow:
    """The instance's row, locked until the command ends: commands on one instance queue here
    (FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite)."""
    return ctx.store.row(tx, instance_id, lock=True)


def load_workflow(ctx: Services, tx: Tx, row: InstanceRow) -> XWorkflow:
    """The instance's workflow (from the cache when it holds this version), on the engine's clock."""
    wf = ctx.store.load(tx, row, ctx.script_engine)
    wf.clock = ctx.clock
    took(row, wf)
    return wf


_TAKEN: ContextVar[list | None] = ContextVar("xiezuo_taken_workflows", default=None)


def took(row: InstanceRow, wf: XWorkflow | None) -> None:
    """Note a workflow this command took from the cache (or loaded): if the command is refused
    before it touches the workflow, the workflow goes back to the cache unchanged."""
    taken = _TAKEN.get()
    if wf is not None and taken is not None:
        wf.touched = False
        taken.append((row.id, row.lock_version, wf))


def assigner(ctx: Services, tx: Tx, now: datetime) -> Callable:
    """How the command resolves a task that became ready: at `now`, passing over auditors."""
    auditors = cache(lambda: members(tx, AUDITORS))  # read once, and only when a task opens

    def assign(task):
        return resolve(task, now, ctx.config.default_priority, ctx.config.fallback_group, auditors(),
                       superior=directory(ctx).superior)

    return assign


def advance(ctx: Services, tx: Tx, row: InstanceRow, wf: XWorkflow, actor: str,
            step: Callable[[], None] | None, *, cancelled: bool = False) -> CommandResult:
    """Run `step` and the engine after it (or cancel the workflow), then store what it did."""
    wf.touched = True
    with running_instance(row.id):  # scripts and assignment expressions may ask about this instance
        done = take_step(wf, step, assigner(ctx, tx, ctx.now()), ctx.config.fallback_group, cancelled=cancelled,
                         actor=actor)
    return write_step(ctx, tx, row, wf, actor, done, max_bytes=None if cancelled else ctx.config.command_max_bytes)


def write_step(ctx: Services, tx: Tx, row: InstanceRow, wf: XWorkflow, actor: str, done: Outcome,
               max_bytes: int | None = None) -> CommandResult:
    """Store one step: its events on the instance's chain, the inbox rows of the tasks that left
    and opened (with their notices), the instance's status and its state."""
    now = ctx.now()
    result = CommandResult(row.id, row.status)
    if done.withdrawn:  # a vote closed: those who had not decided need not any more, and are told so
        _tell_withdrawn(ctx, tx, row, done.withdrawn, now)
    if done.left:
        tx.queue(f"DELETE FROM inbox_candidate WHERE task_id IN ({tx.in_list(done.left)})", done.left)
        tx.queue(f"DELETE FROM inbox_task WHERE task_id IN ({tx.in_list(done.left)})", done.left)
    for task, who in done.opened:
        open_inbox_row(ctx, tx, row, task, who, now)
        result.opened_tasks.append(str(task.id))
    for event in done.events:
        audit.record(tx, row, event.type, actor if event.by_actor else "system", now, event.element_id,
                     event.task_id, event.data or None)
    row.status = done.status
    row.error = json.dumps(done.error, ensure_ascii=False) if done.error is not None else None
    if done.status == "completed":
        row.completed_at = now
    timers = waiting_timers(wf)
    row.next_due_at = timers[0][1] if timers and row.status == "running" else None
    row.updated_at = now
    try:
        result.bytes_written = ctx.store.save(tx, row, wf, max_bytes)
    except CommandTooLarge as exc:
        raise Refused(exc, row, actor) from exc
    result.status = row.status
    result.error = done.error
    return result




def open_inbox_row(ctx: Services, tx: Tx, row: InstanceRow, task, who, now: datetime) -> None:
    """The inbox row of a task that became ready, its candidates, and the notice of the new task."""
    tid = str(task.id)
    tx.queue(INBOX_INSERT, (
        tid, row.id, row.process_id, row.process_version, row.business_key,
        task.task_spec.bpmn_name or element_of(task), element_of(task), task.task_spec.lane, who.assignee,
        ",".join(who.candidate_users), ",".join(who.candidate_groups), tx.stamp(now), tx.stamp(who.due_at),
        who.priority, ctx.reactions.subject_of(task.data), tx.stamp(timeout_at(ctx, task, now))))
    for kind, names in (("user", who.candidate_users), ("group", who.candidate_groups)):
        for name in dict.fromkeys(names):
            tx.queue(CANDIDATE_INSERT, (tid, kind, name))
    name = task.task_spec.bpmn_name or element_of(task)
    notify_new_task(_told_of_task(ctx, tx, who, now), Msg("notice.new_task", task=name, request=row.business_key)
                    if row.business_key else Msg("notice.new_task_plain", task=name), tid)


def _tell_withdrawn(ctx: Services, tx: Tx, row: InstanceRow, task_ids: list[str], now: datetime) -> None:
    found = tx.all(f"SELECT task_id, task_name, assignee FROM inbox_task WHERE task_id IN ({tx.in_list(task_ids)})",
                   task_ids)
    write_notices(tx, row.id, [{"recipient": assignee, "kind": "info", "message": Msg(
        "notice.vote_closed", task=name, request=row.business_key or row.id)} for _tid, name, assignee in found
        if assignee], now)


def timeout_at(ctx: Services, task, opened: datetime) -> datetime | None:
    """When the step's timeout action falls due for a task that opened at `opened`: its
    timeoutAfter working days later (by the product's calendar), or None."""
    after = task.task_spec.form.rules.get("timeoutAfter")
    return ctx.reactions.days_on(ctx, opened, int(after)) if after else None


def _told_of_task(ctx: Services, tx: Tx, who, now: datetime) -> list[str]:
    """Whom a new task is announced to: its assignee (and the assignee's substitute while away),
    else its candidate users and the active members of its candidate groups (read in the command's
    transaction)."""
    if who.assignee:
        return [who.assignee, directory(ctx).substitute_of(who.assignee, local_date(ctx, now)) or ""]
    groups = list(dict.fromkeys(who.candidate_groups))
    found = tx.all("SELECT m.user_id FROM group_membership m JOIN app_user u ON u.id = m.user_id "
                   f"WHERE u.active = ? AND m.group_name IN ({', '.join('?' * len(groups))}) ORDER BY m.user_id",
                   (True, *groups)) if groups else []
    return [*who.candidate_users, *(m for (m,) in found)]


# --- changing an instance beside its diagram (the migration to a newer version) -------------------------

@dataclass
class InstanceChange:
    """What `change_instance` hands the change: the locked instance row, its workflow, the transaction."""

    ctx: Services
    tx: Tx
    row: InstanceRow
    wf: XWorkflow
    now: datetime

    def ready_user_tasks(self) -> dict:
        """The instance's ready user tasks by task id."""
        return user_tasks(self.wf, READY)

    def touch(self) -> None:
        """Say the workflow is about to change: from here on a refusal drops the cached copy."""
        self.wf.touched = True

    def reassign(self, task) -> None:
        """Open the inbox row of a ready task anew (who works on it, its name or due date changed),
        with the events of a task that opened."""
        tx, tid = self.tx, str(task.id)
        tx.queue("DELETE FROM inbox_candidate WHERE task_id = ?", (tid,))
        tx.queue("DELETE FROM inbox_task WHERE task_id = ?", (tid,))
        who = assignment(task, assigner(self.ctx, tx, self.now))
        open_inbox_row(self.ctx, tx, self.row, task, who, self.now)
        for event in opened_events(task, who, self.ctx.config.fallback_group):
            audit.record(tx, self.row, event.type, "system", self.now, event.element_id, event.task_id, event.data)


def change_instance(ctx: Services, instance_id: str, actor: str,
                    change: Callable[[InstanceChange], None]) -> CommandResult:
    """One command that changes an instance beside its diagram, in one transaction: the row is locked
    and the workflow loaded, `change` edits them (it raises to refuse, before `touch()` if it can), then
    the state is saved with its inbox rows and audit events like any command's (no engine step runs).
    `change` writes its own audit event with `audit.record(change.tx, change.row, ...)`."""

    def command(tx: Tx):
        row = lock_instance(ctx, tx, instance_id)
        wf = load_workflow(ctx, tx, row)
        seen = before(wf)
        now = ctx.now()
        change(InstanceChange(ctx, tx, row, wf, now))
        done = outcome(wf, seen, None, assigner(ctx, tx, now), ctx.config.fallback_group)
        return row, wf, write_step(ctx, tx, row, wf, actor, done)

    return run_command(ctx, command)


# --- the unit of work ---------------------------------------------------------------------------------

def commit(ctx: Services, tx: Tx, row: InstanceRow) -> None:
    """Write the instance row, then everything queued; a lost race becomes StaleInstance."""
    try:
        ctx.store.write_row(tx, row)
        tx.flush()
    except tx.integrity_error as exc:  # a second writer on the audit chain or the task rows
        raise StaleInstance("instance.stale") from exc


class Refused(Exception):
    """A step too large to save: the command is rolled back, then its instance marked errored."""

    def __init__(self, error: CommandTooLarge, row: InstanceRow, actor: str):
        super().__init__(error.message)
        self.error, self.actor = error, actor
        self.instance_id, self.lock_version, self.stored = row.id, row.lock_version, row.stored


def _mark_refused(ctx: Services, tx: Tx, refused: Refused) -> tuple:
    """Stop the instance where the refused command found it, naming the element and the sizes:
    nothing of the step is kept, and a retry (or a completion, with smaller data) runs it again."""
    row = lock_instance(ctx, tx, refused.instance_id)
    if row.lock_version != refused.lock_version:
        raise StaleInstance("instance.stale")
    exc, now = refused.error, ctx.now()
    error = {"element_id": exc.element_id, "message": exc.message, "code": exc.code, "size": exc.size,
             "limit": exc.limit}
    row.status, row.error, row.next_due_at, row.updated_at = "errored", json.dumps(error, ensure_ascii=False), None, now
    audit.record(tx, row, "instance_errored", refused.actor, now, exc.element_id, None, error)
    return row, None, CommandResult(row.id, row.status, error=error)


def run_command(ctx: Services, command: Callable[[Tx], tuple], raise_errors: bool = True) -> CommandResult | None:
    """Run `command(tx)` -> (instance row, workflow or None, CommandResult or None) as one unit of
    work; a step too large to save leaves its instance errored (a start: nothing). With
    `raise_errors` an instance the step stopped raises InstanceErrored after the commit."""
    with org_snapshot(ctx):  # assignments, inbox rows and notifications read the organisation once
        try:
            return _unit(ctx, command, raise_errors)
        except Refused as exc:
            refused = exc
        if not refused.stored:  # a start: there is no instance to mark
            raise refused.error
        return _unit(ctx, lambda tx: _mark_refused(ctx, tx, refused), raise_errors)


def _unit(ctx: Services, command: Callable[[Tx], tuple], raise_errors: bool) -> CommandResult | None:
    """One unit of work; the workflow is cached for the next command only once it committed."""
    wf = row = None
    key = None
    token = _TAKEN.set([])
    try:
        with ctx.db.transaction() as tx, collecting_notifications() as notes:
            org_scope.use(ctx.db, tx)  # the organisation and the calendar are read on this connection
            row, wf, result = command(tx)
            if result is not None:
                write_notices(tx, row.id, notes_to_write(notes), ctx.now())
                commit(ctx, tx, row)
            key = (row.id, row.lock_version) if row is not None else None
    except BaseException:
        if row is not None:
            ctx.store.forget(row.id)
        for instance_id, lock_version, untouched in _TAKEN.get() or []:
            if not untouched.touched:  # refused before any change: still the committed state
                ctx.store.remember(instance_id, lock_version, untouched)
        raise
    finally:
        _TAKEN.reset(token)
    if wf is not None and key is not None:
        ctx.store.remember(*key, wf)
    if result is None:
        return None
    if result.error is not None and raise_errors:
        raise InstanceErrored(f"[{result.error['element_id']}] {result.error['message']}",
                              result.error["element_id"])
    return result


__all__ = ["CommandResult", "InstanceChange", "advance", "change_instance", "commit", "load_workflow",
           "lock_instance", "run_command", "took", "write_step"]
