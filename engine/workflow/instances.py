"""Start, advance, claim, release, cancel and retry process instances: one transaction each."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn.specs.defaults import EndEvent
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select

from engine.audit import chain as audit
from engine.bootstrap import Services
from engine.bpmn.form_bounds import Bounds, names_people
from engine.bpmn.form_validation import validate_submission
from engine.bpmn.forms import Form
from engine.bpmn.parser import UserTask
from engine.bpmn.runtime import XWorkflow
from engine.bpmn.timers import waiting_timers
from engine.db.models import InboxTask, ProcessInstance
from engine.db.tx import Tx
from engine.errors import (
    CommandTooLarge,
    FormInvalid,
    InstanceErrored,
    InvalidInput,
    NotFound,
    PermissionDenied,
    StaleInstance,
    TaskNotReady,
)
from engine.knowledge import lessons as knowledge
from engine.org.directory import AUDITORS, directory, local_date
from engine.org.scope import org_snapshot
from engine.requests.record_forms import form_records, store_form_records, task_data_values
from engine.workflow.assignment import resolve
from engine.workflow.expressions import collecting_notifications, notes_to_write, notify_new_task, running_instance
from engine.workflow.inbox import identities
from engine.workflow.store import InstanceRow

READY = TaskState.READY
WAITING = TaskState.WAITING


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


def _user_tasks(wf: XWorkflow, state: int) -> dict:
    return {t.id: t for each in wf.all_workflows() for t in each.open_tasks.values()
            if t.state & state and isinstance(t.task_spec, UserTask)}


def _open_states(wf: XWorkflow) -> dict:
    return {t.id: (t.state, t) for each in wf.all_workflows() for t in each.open_tasks.values()}


def _timer_children(wf: XWorkflow) -> dict:
    """Children per waiting timer: a cycle timer stays waiting and adds a child each time it fires."""
    return {t.id: len(t._children) for each in wf.all_workflows() for t in each.open_tasks.values()
            if t.state == WAITING and _is_timer(t)}


def _is_timer(task) -> bool:
    return isinstance(getattr(task.task_spec, "event_definition", None), TimerEventDefinition)


def _fired_timers(wf: XWorkflow, before: dict, children: dict) -> list:
    """Timers that fired during the command: also those created and fired within it, and cycles."""
    fired = []
    for each in wf.all_workflows():
        for tid in each.dirty:
            task = each.tasks.get(tid)
            if task is None or not _is_timer(task):
                continue
            # A timer completes only by firing (one that is not needed any more is cancelled).
            completed = task.state == TaskState.COMPLETED and before.get(tid, (None,))[0] != TaskState.COMPLETED
            cycled = task.state == WAITING and len(task._children) > children.get(tid, len(task._children))
            if completed or cycled:
                fired.append(task)
    return sorted(fired, key=lambda t: t.order)


def _lock_instance(ctx: Services, tx: Tx, instance_id: str) -> InstanceRow:
    # Commands on one instance queue here (FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite).
    return ctx.store.row(tx, instance_id, lock=True)


def _load(ctx: Services, tx: Tx, row: InstanceRow) -> XWorkflow:
    wf = ctx.store.load(tx, row, ctx.script_engine)
    wf.clock = ctx.clock
    _taken(row, wf)
    return wf


_TAKEN: ContextVar[list | None] = ContextVar("xiezuo_taken_workflows", default=None)


def _taken(row: InstanceRow, wf: XWorkflow | None) -> None:
    """Note a workflow this command took from the cache (or loaded): if the command is refused
    before it touches the workflow, the workflow goes back to the cache unchanged."""
    taken = _TAKEN.get()
    if wf is not None and taken is not None:
        wf.touched = False
        taken.append((row.id, row.lock_version, wf))


def _element(task) -> str | None:
    return getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name


def _error_of(exc: Exception) -> dict:
    task = getattr(exc, "task", None)
    message = str(exc)
    notes = getattr(exc, "__notes__", None) or getattr(exc, "notes", None)
    if notes:
        message = f"{message} ({'; '.join(str(n) for n in notes)})"
    cause = exc.__context__ or getattr(exc, "error", None)
    if cause is not None and str(cause) and str(cause) not in message:
        message = f"{message}: {cause}"
    return {"element_id": _element(task) if task is not None else None, "message": message}


def _advance(ctx: Services, tx: Tx, row: InstanceRow, wf: XWorkflow, actor: str,
             step: Callable[[], None]) -> CommandResult:
    """Run `step` and the engine after it, then write state, inbox and audit rows together."""
    before, children = _open_states(wf), _timer_children(wf)
    wf.touched = True
    with running_instance(row.id):  # scripts and assignment expressions may ask about this instance
        error = run_step(wf, step)
        return _finish(ctx, tx, row, wf, actor, before, error, _fired_timers(wf, before, children),
                       max_bytes=ctx.config.command_max_bytes)


def run_step(wf: XWorkflow, step: Callable[[], None]) -> dict | None:
    """Run `step` (a completion, a timer's firing) and the engine's own steps after it, as every
    command does (and the audit replay after it); the error that stopped the instance, if any."""
    try:
        step()
        wf.refresh_timers()
        wf.do_engine_steps()
        if wf.is_completed() and not wf.really_completed():
            raise InstanceErrored("the engine reported completion while tasks are still open")
    except (SpiffWorkflowException, InstanceErrored) as exc:
        return _error_of(exc)
    return None


def _finish(ctx: Services, tx: Tx, row: InstanceRow, wf: XWorkflow, actor: str, before: dict,
            error: dict | None, fired: list = (), cancelled: bool = False,
            max_bytes: int | None = None) -> CommandResult:
    now = ctx.now()
    ready_now = _user_tasks(wf, READY)
    result = CommandResult(row.id, row.status)
    for task in fired:
        audit.record(tx, row, "timer_fired", "system", now, _element(task), str(task.id))
    gone = [tid for tid, (state, task) in before.items()
            if state == READY and isinstance(task.task_spec, UserTask) and tid not in ready_now]
    for tid in gone:
        task = before[tid][1]
        if task.state & (TaskState.CANCELLED | TaskState.ERROR) or wf.find_task(tid) is None:
            audit.record(tx, row, "task_cancelled", actor, now, _element(task), str(tid))
    if gone:
        ids = [str(t) for t in gone]
        tx.queue(f"DELETE FROM inbox_candidate WHERE task_id IN ({tx.in_list(ids)})", ids)
        tx.queue(f"DELETE FROM inbox_task WHERE task_id IN ({tx.in_list(ids)})", ids)
    opened = [t for tid, t in ready_now.items() if before.get(tid, (None,))[0] != READY]
    for task in sorted(opened, key=lambda t: t.order):
        _open_inbox_row(ctx, tx, row, task, now)
        result.opened_tasks.append(str(task.id))
    if error is not None:
        row.status = "errored"
        row.error = json.dumps(error, ensure_ascii=False)
        audit.record(tx, row, "instance_errored", actor, now, error["element_id"], None, error)
    elif cancelled:  # stopped, not completed: the caller records why
        row.status = "cancelled"
        row.error = None
    elif wf.is_completed():
        row.status = "completed"
        row.completed_at = now
        row.error = None
        ends = [wf.tasks[tid] for tid in wf.dirty if tid in wf.tasks
                and isinstance(wf.tasks[tid].task_spec, EndEvent) and wf.tasks[tid].state == TaskState.COMPLETED]
        end = _element(max(ends, key=lambda t: t.order)) if ends else None
        audit.record(tx, row, "instance_completed", actor, now, end, None, {"end_event": end})
    else:
        row.status = "running"
        row.error = None
    timers = waiting_timers(wf)
    row.next_due_at = timers[0][1] if timers and row.status == "running" else None
    row.updated_at = now
    try:
        result.bytes_written = ctx.store.save(tx, row, wf, max_bytes)
    except CommandTooLarge as exc:
        raise _Refused(exc, row, actor) from exc
    result.status = row.status
    result.error = error
    return result


_INBOX_INSERT = (
    "INSERT INTO inbox_task (task_id, instance_id, process_id, process_version, business_key, task_name, "
    "element_id, lane, assignee, candidate_users, candidate_groups, created_at, due_at, priority) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_CANDIDATE_INSERT = "INSERT INTO inbox_candidate (task_id, kind, name) VALUES (?, ?, ?)"
_NOTIFICATION_INSERT = ("INSERT INTO notification (instance_id, task_id, recipient, kind, message, created_at) "
                        "VALUES (?, ?, ?, ?, ?, ?)")


def _open_inbox_row(ctx: Services, tx: Tx, row: InstanceRow, task, now: datetime) -> None:
    try:
        who = resolve(task, now, ctx.config.default_priority, ctx.config.fallback_group, _members(tx, AUDITORS))
    except SpiffWorkflowException as exc:
        raise InvalidInput(f"[{_element(task)}] cannot resolve the assignment: {exc}") from None
    tid = str(task.id)
    tx.queue(_INBOX_INSERT, (
        tid, row.id, row.process_id, row.process_version, row.business_key,
        task.task_spec.bpmn_name or _element(task), _element(task), task.task_spec.lane, who.assignee,
        ",".join(who.candidate_users), ",".join(who.candidate_groups), tx.stamp(now), tx.stamp(who.due_at),
        who.priority))
    for kind, names in (("user", who.candidate_users), ("group", who.candidate_groups)):
        for name in dict.fromkeys(names):
            tx.queue(_CANDIDATE_INSERT, (tid, kind, name))
    audit.record(tx, row, "task_ready", "system", now, _element(task), tid, ready_data(who))
    if who.fallback:
        audit.record(tx, row, "assignment_fallback", "system", now, _element(task), tid,
                     {"group": ctx.config.fallback_group})
    notify_new_task(_told_of_task(ctx, tx, who, now), f"新任务：{task.task_spec.bpmn_name or _element(task)}"
                    + (f"（需求 {row.business_key}）" if row.business_key else ""), tid)


def ready_data(who) -> dict:
    """What a task_ready event records of the task's assignment (replay writes the same); the
    auditors the diagram named, who may not take it, only when there were any."""
    data = {"assignee": who.assignee, "candidate_users": who.candidate_users,
            "candidate_groups": who.candidate_groups,
            "due_at": who.due_at.isoformat() if who.due_at else None, "priority": who.priority}
    return {**data, "auditors_passed_over": who.passed_over} if who.passed_over else data


def _told_of_task(ctx: Services, tx: Tx, who, now: datetime) -> list[str]:
    """Whom a new task is announced to: its assignee (and the assignee's substitute while away),
    else its candidate users and the active members of its candidate groups (read in the command's
    transaction)."""
    if who.assignee:
        return [who.assignee, directory(ctx).substitute_of(who.assignee, local_date(ctx, now)) or ""]
    groups = list(dict.fromkeys(who.candidate_groups))
    members = tx.all("SELECT m.user_id FROM group_membership m JOIN app_user u ON u.id = m.user_id "
                     f"WHERE u.active = ? AND m.group_name IN ({', '.join('?' * len(groups))}) ORDER BY m.user_id",
                     (True, *groups)) if groups else []
    return [*who.candidate_users, *(m for (m,) in members)]


def _commit(ctx: Services, tx: Tx, row: InstanceRow) -> None:
    """Write the instance row, then everything queued; a lost race becomes StaleInstance."""
    try:
        ctx.store.write_row(tx, row)
        tx.flush()
    except tx.integrity_error as exc:  # a second writer on the audit chain or the task rows
        raise StaleInstance(f"instance {row.id} was changed by someone else; reload and retry") from exc


class _Refused(Exception):
    """A step too large to save: the command is rolled back, then its instance marked errored."""

    def __init__(self, error: CommandTooLarge, row: InstanceRow, actor: str):
        super().__init__(error.message)
        self.error, self.actor = error, actor
        self.instance_id, self.lock_version, self.stored = row.id, row.lock_version, row.stored


def _mark_refused(ctx: Services, tx: Tx, refused: _Refused) -> tuple:
    """Stop the instance where the refused command found it, naming the element and the sizes:
    nothing of the step is kept, and a retry (or a completion, with smaller data) runs it again."""
    row = _lock_instance(ctx, tx, refused.instance_id)
    if row.lock_version != refused.lock_version:
        raise StaleInstance(f"instance {row.id} was changed by someone else; reload and retry")
    exc, now = refused.error, ctx.now()
    error = {"element_id": exc.element_id, "message": exc.message, "code": exc.code, "size": exc.size,
             "limit": exc.limit}
    row.status, row.error, row.next_due_at, row.updated_at = "errored", json.dumps(error, ensure_ascii=False), None, now
    audit.record(tx, row, "instance_errored", refused.actor, now, exc.element_id, None, error)
    return row, None, CommandResult(row.id, row.status, error=error)


def _run(ctx: Services, command: Callable[[Tx], tuple], raise_errors: bool = True) -> CommandResult:
    """One unit of work; a step too large to save leaves its instance errored (a start: nothing)."""
    with org_snapshot(ctx):  # assignments, inbox rows and notifications read the organisation once
        try:
            return _unit(ctx, command, raise_errors)
        except _Refused as exc:
            refused = exc
        if not refused.stored:  # a start: there is no instance to mark
            raise refused.error
        return _unit(ctx, lambda tx: _mark_refused(ctx, tx, refused), raise_errors)


def _unit(ctx: Services, command: Callable[[Tx], tuple], raise_errors: bool) -> CommandResult:
    """One unit of work; the workflow is cached for the next command only once it committed."""
    wf = row = None
    key = None
    token = _TAKEN.set([])
    try:
        with ctx.db.transaction() as tx, collecting_notifications() as notes:
            row, wf, result = command(tx)
            if result is not None:
                now = tx.stamp(ctx.now())
                for note in notes_to_write(notes):
                    tx.queue(_NOTIFICATION_INSERT, (row.id, note.get("task_id"), note["recipient"], note["kind"],
                                                    note["message"], now))
                _commit(ctx, tx, row)
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
        return _user_tasks(self.wf, READY)

    def touch(self) -> None:
        """Say the workflow is about to change: from here on a refusal drops the cached copy."""
        self.wf.touched = True

    def reassign(self, task) -> None:
        """Open the inbox row of a ready task anew (who works on it, its name or due date changed)."""
        tx, tid = self.tx, str(task.id)
        tx.queue("DELETE FROM inbox_candidate WHERE task_id = ?", (tid,))
        tx.queue("DELETE FROM inbox_task WHERE task_id = ?", (tid,))
        _open_inbox_row(self.ctx, tx, self.row, task, self.now)


def change_instance(ctx: Services, instance_id: str, actor: str,
                    change: Callable[[InstanceChange], None]) -> CommandResult:
    """One command that changes an instance beside its diagram, in one transaction: the row is locked
    and the workflow loaded, `change` edits them (it raises to refuse, before `touch()` if it can), then
    the state is saved with its inbox rows and audit events like any command's (no engine step runs).
    `change` writes its own audit event with `audit.record(change.tx, change.row, ...)`."""

    def command(tx: Tx):
        row = _lock_instance(ctx, tx, instance_id)
        wf = _load(ctx, tx, row)
        before = _open_states(wf)
        change(InstanceChange(ctx, tx, row, wf, ctx.now()))
        return row, wf, _finish(ctx, tx, row, wf, actor, before, None)

    return _run(ctx, command)


def start_instance(ctx: Services, process_id: str, user: str, data: dict | None = None,
                   business_key: str | None = None, number_prefix: str | None = None,
                   context: dict | None = None) -> CommandResult:
    """Start the latest version of a process as `user`; data is checked against its start form.

    With `number_prefix` the instance gets the next number of the month (PREFIX-YYYYMM###) as its
    business key and `request_no`, taken in the same transaction, so numbers have no gaps.
    `context` holds values the caller vouches for (not form input), added after validation.
    """
    if data is not None and not isinstance(data, dict):
        raise InvalidInput("start data must be a JSON object")

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
        key = business_key
        if number_prefix:
            key = _next_number(ctx, tx, number_prefix, now)
            values.update(request_no=key, submitted_at=now.isoformat())
        values.update(context or {})
        instance_id = str(uuid.uuid4())
        row = InstanceRow(
            id=instance_id, process_version_id=version_id, process_id=process_id,
            process_version=version, business_key=key, initiator=user,
            status="running", created_at=now, updated_at=now, completed_at=None, next_due_at=None,
            lock_version=1, task_seq=0, meta="{}", error=None, audit_seq=0, audit_hash=audit.GENESIS,
            stored=False)
        wf = ctx.store.new_workflow(tx, version_id, instance_id, ctx.script_engine)
        wf.clock = ctx.clock
        if number_prefix:
            _summarise(tx, row, values, now)
        wf.task_tree.data.update(values)
        wf.task_tree.data.update(initiator=user, business_key=key)
        audit.record(tx, row, "instance_started", user, now, None, None,
                     {"process_id": process_id, "version": version, "data": values, "business_key": key})
        return row, wf, _advance(ctx, tx, row, wf, user, lambda: None)

    return _run(ctx, command)


_SUMMARY_INSERT = (
    "INSERT INTO request_summary (instance_id, request_no, process_id, title, request_type, urgency, priority, "
    "requester, requester_dept, lead_dept, involved_depts, expected_date, submitted_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


def _summarise(tx: Tx, row: InstanceRow, values: dict, now: datetime) -> None:
    """The request's row for lists and filters (written after the instance row, with the command)."""
    depts = values.get("involved_depts") or values.get("conflict_parties") or []
    title = values.get("title") or values.get("conflict_topic") or row.business_key
    tx.queue(_SUMMARY_INSERT, (
        row.id, row.business_key, row.process_id, str(title)[:255], values.get("request_type"),
        values.get("urgency"), values.get("priority"), values.get("requester") or row.initiator,
        values.get("requester_dept"), None, ",".join(depts), values.get("expected_date"), tx.stamp(now)))


def _next_number(ctx: Services, tx: Tx, prefix: str, now: datetime) -> str:
    """The month's next number; the counter row stays locked until this transaction ends, so
    concurrent starts queue and a rolled-back start gives its number back."""
    period = now.astimezone(ZoneInfo(ctx.config.timezone)).strftime("%Y%m")
    counter = f"{prefix}-{period}"
    (number,) = tx.one("INSERT INTO request_counter (period, last_number) VALUES (?, 1) ON CONFLICT (period) "
                       "DO UPDATE SET last_number = request_counter.last_number + 1 RETURNING last_number",
                       (counter,))
    return f"{counter}{number:03d}"  # past 999 the number simply grows a digit: XMBG-2026121000


def number_order(column, descending: bool = False) -> tuple:
    """ORDER BY terms that sort request numbers of one month by value: past 999 a number is one
    character longer, so its length sorts before its text (XMBG-202612999 < XMBG-2026121000)."""
    terms = (func.length(column), column)
    return tuple(t.desc() for t in terms) if descending else terms


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
        raise NotFound(f"process '{process_id}' is not deployed")
    return found


def start_form(ctx: Services, process_id: str) -> Form:
    """The start form of the latest deployed version of a process (what starting it asks for)."""
    with ctx.db.transaction(write=False) as tx:
        version_id, _version = _latest_version(tx, process_id)
        return ctx.store.specs.start_form(tx, version_id)


@dataclass
class InboxRow:
    """The inbox columns a command checks before it touches the instance."""

    task_id: str
    instance_id: str
    element_id: str
    task_name: str
    assignee: str | None
    candidate_users: str
    candidate_groups: str
    delegated_by: str | None = None  # 委派: set while the assignee works on it for this user


def _groups(tx: Tx, user: str) -> set[str]:
    return {g for (g,) in tx.all("SELECT group_name FROM group_membership WHERE user_id = ?", (user,))}


def _members(tx: Tx, group: str) -> set[str]:
    return {u for (u,) in tx.all("SELECT user_id FROM group_membership WHERE group_name = ?", (group,))}


def refuse_auditor(tx: Tx, user: str) -> None:
    """Auditors read everything and change nothing: no task, request or record is theirs to act on."""
    if AUDITORS in _groups(tx, user):
        raise PermissionDenied(f"user {user} is an auditor: auditors read and change nothing")


def _inbox_row(tx: Tx, task_id: str) -> InboxRow:
    found = tx.one("SELECT task_id, instance_id, element_id, task_name, assignee, candidate_users, "
                   "candidate_groups, delegated_by FROM inbox_task WHERE task_id = ?", (task_id,))
    if found is None:
        raise TaskNotReady(f"task {task_id} is not open (completed, cancelled or unknown)")
    return InboxRow(*found)


def acting_for(ctx: Services, tx: Tx, inbox: InboxRow, user: str) -> str | None:
    """Whom `user` acts for on the inbox task: themselves (its assignee, or a candidate while it is
    unclaimed), or a user they substitute today; None if they may not work on it."""
    if AUDITORS in _groups(tx, user):
        return None
    if inbox.assignee == user or (not inbox.assignee and _offered(tx, inbox, user)):
        return user
    for other in identities(ctx, user)[1:]:  # only now: substitutions need the organisation
        if inbox.assignee == other or (not inbox.assignee and _offered(tx, inbox, other)):
            return other
    return None


def _offered(tx: Tx, inbox: InboxRow, user: str) -> bool:
    if user in filter(None, inbox.candidate_users.split(",")):
        return True
    groups = set(filter(None, inbox.candidate_groups.split(",")))
    return bool(groups and groups & _groups(tx, user))


def refuse_delegated(inbox: InboxRow) -> None:
    """A delegated task (委派) is only handed back by its delegate; nothing else happens to it meanwhile."""
    if inbox.delegated_by:
        raise TaskNotReady(f"task {inbox.task_id} is delegated by {inbox.delegated_by} to {inbox.assignee}: "
                           f"{inbox.assignee} resolves the delegation, then {inbox.delegated_by} completes it")


def _ready_task(wf: XWorkflow, task_id: str):
    task = wf.find_task(uuid.UUID(task_id))
    if task is None or task.state != READY or not isinstance(task.task_spec, UserTask):
        raise TaskNotReady(f"task {task_id} is not waiting for input")
    return task


def complete_task(ctx: Services, task_id: str, user: str, data: dict | None = None) -> CommandResult:
    """Complete a user task with form data validated against its form; nothing changes on error."""
    if data is not None and not isinstance(data, dict):
        raise InvalidInput("task data must be a JSON object")

    def command(tx: Tx):
        inbox = _inbox_row(tx, task_id)
        refuse_auditor(tx, user)
        principal = acting_for(ctx, tx, inbox, user)
        if principal is None and user != inbox.delegated_by:  # strangers learn nothing of the task
            raise PermissionDenied(f"user {user} may not work on task {task_id}")
        refuse_delegated(inbox)
        row = _lock_instance(ctx, tx, inbox.instance_id)
        wf = _load(ctx, tx, row)
        task = _ready_task(wf, task_id)
        clean, errors = validate_submission(task.task_spec.form, data or {}, ZoneInfo(ctx.config.timezone),
                                            form_bounds(ctx, task.task_spec.form, task.data))
        if errors:
            raise FormInvalid(errors)
        record = {"data": clean, "form": bool(task.task_spec.form.fields)}
        if principal != user:
            record["on_behalf_of"] = principal
        audit.record(tx, row, "task_completed", user, ctx.now(), _element(task), task_id, record)
        # Values a field marks as a record (feedback, progress, minutes, ...) are kept as rows of their
        # own: the request's history lives there, and the task data, copied into every later task and
        # stored with each, keeps only what routes the flow or a later task shows (data="true").
        records = form_records(task.task_spec.form, clean, task.data)
        if records:
            store_form_records(tx, row, task_id, _element(task), user, ctx.now(), records,
                               timezone=ctx.config.timezone)
        if clean.get("lead_dept"):  # dispatched: lists and filters show the lead department, as do its lessons
            tx.queue("UPDATE request_summary SET lead_dept = ? WHERE instance_id = ?", (clean["lead_dept"], row.id))
            knowledge.request_dispatched(tx, row.id, row.business_key, clean["lead_dept"])
        values = task_data_values(task.task_spec.form, clean)

        def step():
            task.data.update(values)
            task.run()

        return row, wf, _advance(ctx, tx, row, wf, user, step)

    return _run(ctx, command)


def _inbox_command(ctx: Services, task_id: str, user: str, change: Callable[[Tx, InboxRow], str]):
    def command(tx: Tx):
        inbox = _inbox_row(tx, task_id)
        refuse_auditor(tx, user)
        row = _lock_instance(ctx, tx, inbox.instance_id)
        cached = ctx.store.cache.take(row.id, row.lock_version)
        _taken(row, cached)
        event = change(tx, inbox)
        tx.queue("UPDATE inbox_task SET assignee = ? WHERE task_id = ?", (inbox.assignee, task_id))
        audit.record(tx, row, event, user, ctx.now(), inbox.element_id, task_id, {})
        row.updated_at = ctx.now()
        return row, cached, CommandResult(row.id, row.status)

    return _run(ctx, command)


def claim_task(ctx: Services, task_id: str, user: str) -> CommandResult:
    """Take a group task: it leaves the group's list and becomes the user's."""
    def change(tx: Tx, inbox: InboxRow) -> str:
        # Candidacy first, so a stranger does not learn who holds the task.
        if inbox.assignee != user and acting_for(ctx, tx, replace(inbox, assignee=None), user) is None:
            raise PermissionDenied(f"user {user} is not a candidate for task {task_id}")
        if inbox.assignee == user:
            raise InvalidInput(f"task {task_id} is already claimed by you")
        if inbox.assignee:
            raise TaskNotReady(f"task {task_id} is already claimed by {inbox.assignee}")
        inbox.assignee = user
        return "task_claimed"

    return _inbox_command(ctx, task_id, user, change)


def release_task(ctx: Services, task_id: str, user: str) -> CommandResult:
    """Give a claimed task back to its candidates."""
    def change(tx: Tx, inbox: InboxRow) -> str:
        if inbox.assignee != user:
            raise PermissionDenied(f"task {task_id} is not claimed by {user}")
        refuse_delegated(inbox)
        if not (inbox.candidate_users or inbox.candidate_groups):
            raise InvalidInput(f"task {task_id} has no candidates to release it to")
        inbox.assignee = None
        return "task_released"

    return _inbox_command(ctx, task_id, user, change)


def cancel_workflow(ctx: Services, tx: Tx, row: InstanceRow, user: str) -> tuple[XWorkflow, CommandResult]:
    """Cancel the instance's workflow in the command's transaction: its open tasks leave every inbox."""
    wf = _load(ctx, tx, row)
    before = _open_states(wf)
    wf.touched = True
    wf.cancel()
    return wf, _finish(ctx, tx, row, wf, user, before, None, cancelled=True)


def cancel_instance(ctx: Services, instance_id: str, user: str, reason: str = "") -> CommandResult:
    """Stop an instance; its open tasks leave every inbox."""
    def command(tx: Tx):
        row = _lock_instance(ctx, tx, instance_id)
        if row.status in ("completed", "cancelled"):
            raise InvalidInput(f"instance {instance_id} is already {row.status}")
        wf, result = cancel_workflow(ctx, tx, row, user)
        audit.record(tx, row, "instance_cancelled", user, ctx.now(), None, None, {"reason": reason})
        return row, wf, result

    return _run(ctx, command)


def retry_instance(ctx: Services, instance_id: str, user: str, data: dict | None = None) -> CommandResult:
    """Run an errored instance again from the failed task, optionally with corrected data."""
    def command(tx: Tx):
        row = _lock_instance(ctx, tx, instance_id)
        if row.status != "errored":
            raise InvalidInput(f"instance {instance_id} is {row.status}, not errored")
        wf = _load(ctx, tx, row)
        failed = [t for each in wf.all_workflows() for t in each.tasks.values() if t.state == TaskState.ERROR]
        audit.record(tx, row, "instance_retried", user, ctx.now(), None, None,
                     {"data": data or {}, "tasks": [_element(t) for t in failed]})

        def step():
            for task in failed:
                task.data.update(data or {})
                task._set_state(READY)

        return row, wf, _advance(ctx, tx, row, wf, user, step)

    return _run(ctx, command)


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
        wf = _load(ctx, tx, row)
        wf.clock = lambda: now
        result = _advance(ctx, tx, row, wf, "system", lambda: None)
        wf.clock = ctx.clock
        return row, wf, result

    return _run(ctx, command, raise_errors=False)


def describe_instance(ctx: Services, instance_id: str) -> dict:
    """An instance's status, open tasks and history, for people and scripts."""
    from engine.db.models import AuditEvent
    from engine.workflow.inbox import task_row

    with ctx.db.read() as s:
        row = s.get(ProcessInstance, instance_id)
        if row is None:
            raise NotFound(f"instance {instance_id} does not exist")
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


def task_form(ctx: Services, task_id: str, user: str) -> dict:
    """A ready task's form, current data and the values its form opens with, for the user who may
    complete it."""
    with ctx.db.transaction(write=False) as tx:
        inbox = _inbox_row(tx, task_id)
        if acting_for(ctx, tx, inbox, user) is None:
            raise PermissionDenied(f"user {user} may not work on task {task_id}")
        row = ctx.store.row(tx, inbox.instance_id)
        wf = _load(ctx, tx, row)
        try:
            task = _ready_task(wf, task_id)
            data = json.loads(json.dumps(task.data, default=str))
            form = task.task_spec.form
            return {"task_id": task_id, "element_id": _element(task), "name": inbox.task_name,
                    "form": form.to_dict(), "data": data, "values": form.opening_values(data)}
        finally:
            ctx.store.remember(row.id, row.lock_version, wf)
