"""The replay check: re-execute an instance from the inputs its audit chain recorded and compare.

An instance's chain holds every input that moved its workflow: the start data (instance_started),
each completion's data and actor (task_completed), cancellations, retries and the times timers
fired at (timer_fired, when no command of a user caused it). Replaying runs the same diagram
version on a fresh workflow with the same deterministic task ids, each command at its recorded
time, and checks every event the engine would have written (timer_fired, task_ready with its
assignment, task_cancelled, instance_errored, instance_completed) against the recorded one; at the
end the task tree (states, data, timers), the workflow data and the status are compared with what
the database holds. Nothing is written and nobody is notified: notify() only collects.

What the functions of expressions return is reconstructed as of each command's recorded time:
departments' heads and interface persons from the posts' history; users' departments, superiors
and states, departments' parents, group memberships and absences from the organisation's history
(org_change); working days from the rulings made before that time; "now" from the record. Not kept
as history, and so read as it is now: a ruling on a day changed again later.
The engine reads its clock more than once in a command, so times computed from "now" (timer due
times) may differ from the stored ones by a moment: up to TIME_SLACK (engine.audit.replay_compare)
counts as equal.

Showing a request step by step (the audit area's replay) is engine.audit.history_replay.replay, read
from the record and the stored task tree; this module only checks.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from SpiffWorkflow.util.task import TaskState

from engine.audit.replay_compare import compare, same
from engine.audit.replay_model import Event, InboxEntry, Replay
from engine.audit.replay_records import INSTANCE_ROWS, recorded_events, stored_states
from engine.bpmn.parser import UserTask
from engine.bpmn.runtime import XWorkflow, element_of
from engine.bpmn.scripting import create_script_engine
from engine.db.tx import Tx
from engine.errors import CommandTooLarge, InvalidInput, NotFound
from engine.org.directory import AUDITORS, Directory
from engine.org.history import History
from engine.workflow.assignment import resolve
from engine.workflow.step import AUTO_PASSED, SKIPPED, completing, failed_tasks, retrying, start_data, take_step

BATCH = 200

# Events the engine writes as a consequence of a command; the replay produces them too.
PRODUCED = ("timer_fired", "task_cancelled", "task_ready", "assignment_fallback", "instance_errored",
            "instance_completed", AUTO_PASSED, SKIPPED)
CANCELS = ("instance_cancelled", "request_withdrawn")
# Events of the inputs that move a workflow (a command of a user); every other event is beside it.
DRIVERS = ("instance_started", "task_completed", "instance_retried", *CANCELS)


class Replayer:
    """Replays instances of one database; the organisation and calendar history are read once."""

    def __init__(self, ctx, tx: Tx):
        from engine.requests.expressions import script_services
        from engine.workflow.notices import KINDS

        self.ctx = ctx
        self.history = History(tx)
        self.current: Replay | None = None
        self._tx = tx
        base = script_services(ctx)
        replay = self

        def now() -> datetime:
            return replay.current.now

        def notify(recipients: Any, kind: str, message: str) -> None:
            if kind not in KINDS:
                raise ValueError(f"unknown notification kind '{kind}' (known: {', '.join(KINDS)})")
            people = [recipients] if isinstance(recipients, str) else list(recipients or [])
            for person in dict.fromkeys(str(p) for p in people if p):
                replay.current.notifications.append({"recipient": person, "kind": kind, "message": str(message)})

        def org() -> Directory:
            return replay.history.directory(now())

        def waiting_on(element_id: str) -> list[str]:
            people: list[str] = []
            for entry in replay.current.inbox.values():
                if entry.element_id == str(element_id):
                    people.extend([entry.assignee] if entry.assignee else entry.candidate_users)
            return list(dict.fromkeys(people))

        def hours_since_progress(plan_task: Any) -> float:
            return replay._hours_since_progress(plan_task)

        def working_days(n: int) -> str:
            return replay.history.calendar(now()).add_working_days(now(), int(n)).isoformat()

        def response_due(urgency: str) -> str:
            from engine.errors import InvalidInput

            try:
                return replay.history.calendar(now()).response_due(now(), str(urgency)).isoformat()
            except InvalidInput as exc:
                raise ValueError(exc.message) from None

        services = {**base, "notify": notify, "waiting_on": waiting_on, "hours_since_progress": hours_since_progress,
                    "working_days": working_days, "response_due": response_due,
                    "head": lambda dept: org().head(dept),
                    "interface_person": lambda dept: org().interface_person(dept),
                    "superior": lambda user: org().superior(user),
                    "common_superior": lambda users: org().common_superior(users),
                    "department_of": lambda user: org().department_of(user)}
        self.script_engine = create_script_engine(
            time_limit=ctx.config.script_time_limit, services=services,
            value_limit=ctx.config.script_value_max_bytes, memory_limit=ctx.config.script_memory_max_bytes)

    def _hours_since_progress(self, plan_task: Any) -> float:
        from engine.requests.record_forms import plan_task_key

        r = self.current
        key = plan_task_key(self._tx, r.instance_id, plan_task)
        found = self._tx.one("SELECT max(created_at) FROM progress_update WHERE instance_id = ? AND plan_task_key = ? "
                             "AND created_at <= ?", (r.instance_id, key, self._tx.stamp(r.now))) if key else None
        since = Tx.when(found[0]) if found and found[0] is not None else None
        if since is None:
            owner = plan_task.get("owner") if isinstance(plan_task, dict) else None
            opened = [e.opened_at for e in r.inbox.values() if e.assignee == owner]
            since = min(opened) if opened else r.created_at
        return round((r.now - since).total_seconds() / 60) / 60

    # ------------------------------------------------------------------ running the record
    def replay(self, instance: tuple, events: list[Event]) -> Replay:
        """Re-execute one instance: (id, business_key, process_version_id, created_at) and its events."""
        instance_id, business_key, version_id, created_at = instance
        r = Replay(instance_id, business_key, version_id, created_at=Tx.when(created_at))
        self.current = r
        expected: deque[Event] = deque()
        done: set[int] = set()  # cancellations run ahead of their own event
        for i, e in enumerate(events):
            try:
                if e.seq in done:
                    continue
                if e.type in PRODUCED:
                    if not expected and e.data.get("code") == CommandTooLarge.code:
                        # A step too large to save wrote nothing but this: the instance stopped as it was.
                        r.status, r.error = "errored", e.data
                        continue
                    if not expected and e.type == "timer_fired":  # the sweep fired it
                        expected = self._command(r, e, lambda: None)
                    elif not expected and e.type == "task_cancelled":  # a cancellation's first event
                        cancel = next((c for c in events[i + 1:] if c.type in CANCELS), None)
                        if cancel is not None:
                            done.add(cancel.seq)
                            expected = self._command(r, cancel, None, cancelled=True)
                    self._match(r, expected, e)
                    continue
                if e.type in DRIVERS:  # a new command: the previous one wrote all it did
                    self._unmatched(r, expected, e)
                if e.type == "instance_started":
                    expected = self._start(r, e)
                elif e.type == "task_completed":
                    expected = self._complete(r, e)
                elif e.type in CANCELS:
                    expected = self._command(r, e, None, cancelled=True)
                elif e.type == "instance_retried":
                    expected = self._retry(r, e)
                else:
                    self._track(r, e)
            except _Stop as stop:
                r.differ(f"event {e.seq}", str(stop))
                return r
        self._unmatched(r, expected, None)
        if r.wf is None:
            r.differ("event 1", "the record holds no instance_started event")
        return r

    def _unmatched(self, r: Replay, expected: deque, e: Event | None) -> None:
        while expected:
            missing = expected.popleft()
            where = f"event {e.seq}" if e is not None else "end of the record"
            r.differ(where, f"the replay writes {_label(missing)} here, the record does not")

    def _match(self, r: Replay, expected: deque, e: Event) -> None:
        if not expected:
            r.differ(f"event {e.seq}", f"the record has {_label(e)}, the replay does not write it")
            return
        self._check(r, expected.popleft(), e)

    def _check(self, r: Replay, mine: Event, e: Event) -> None:
        if (mine.type, mine.element_id, mine.task_id) != (e.type, e.element_id, e.task_id):
            r.differ(f"event {e.seq}", f"the record has {_label(e)}, the replay writes {_label(mine)}")
            return
        if e.type in ("task_ready", "assignment_fallback", "instance_errored", "instance_completed", AUTO_PASSED,
                      SKIPPED):
            for key, value in mine.data.items():
                if not same(e.data.get(key), value):
                    r.differ(f"event {e.seq}", f"{e.type} {e.element_id}: {key} recorded {e.data.get(key)!r}, "
                                               f"replayed {value!r}")
        if e.type == "task_ready":
            r.inbox[e.task_id] = InboxEntry(e.element_id, e.data.get("assignee"),
                                            list(e.data.get("candidate_users") or []), e.at)
        elif e.type in ("task_cancelled", AUTO_PASSED, SKIPPED):
            r.inbox.pop(e.task_id, None)

    def _track(self, r: Replay, e: Event) -> None:
        """Events beside the workflow that change who holds a task (what waiting_on() reads)."""
        entry = r.inbox.get(e.task_id or "")
        if entry is None:
            return
        if e.type == "task_claimed":
            entry.assignee = e.actor
        elif e.type == "task_released":
            entry.assignee = None
        elif isinstance(e.data.get("after"), dict) and "assignee" in e.data["after"]:
            entry.assignee = e.data["after"]["assignee"]

    # ------------------------------------------------------------------ commands
    def _start(self, r: Replay, e: Event) -> deque:
        if r.wf is not None:
            raise _Stop("a second instance_started")
        spec, subs = self.ctx.store.specs.get(self._tx, r.version_id)
        r.wf = XWorkflow(spec, subs, script_engine=self.script_engine, instance_id=uuid.UUID(r.instance_id))
        r.wf.clock = lambda: r.now
        values = dict(e.data.get("data") or {})
        start_data(r.wf, values, e.actor, e.data.get("business_key"))
        return self._command(r, e, lambda: None)

    def _complete(self, r: Replay, e: Event) -> deque:
        wf = self._workflow(r)
        task = wf.find_task(uuid.UUID(e.task_id)) if e.task_id else None
        if task is None or task.state != TaskState.READY or not isinstance(task.task_spec, UserTask):
            state = TaskState.get_name(task.state) if task is not None else "no such task"
            raise _Stop(f"task {e.task_id} ({e.element_id}) completed by {e.actor} is not ready in the replay "
                        f"({state})")
        if element_of(task) != e.element_id:
            r.differ(f"event {e.seq}", f"task {e.task_id} is {element_of(task)} in the replay, {e.element_id} in the "
                                       f"record")
        values = self.ctx.reactions.data_of(task.task_spec.form, dict(e.data.get("data") or {}))
        expected = self._command(r, e, completing(task, values))
        r.inbox.pop(e.task_id, None)
        return expected

    def _retry(self, r: Replay, e: Event) -> deque:
        wf = self._workflow(r)
        return self._command(r, e, retrying(failed_tasks(wf), e.data.get("data")))

    def _workflow(self, r: Replay) -> XWorkflow:
        if r.wf is None:
            raise _Stop("the record starts without instance_started")
        return r.wf

    def _command(self, r: Replay, e: Event, step: Callable[[], None] | None, cancelled: bool = False) -> deque:
        """Run one command at the event's time as the engine does (engine.workflow.step, the function
        the command runner stores); the events it would write."""
        wf = self._workflow(r)
        r.now = e.at

        def assign(task):
            org = self.history.directory(e.at)
            return resolve(task, e.at, self.ctx.config.default_priority, self.ctx.config.fallback_group,
                           org.members(AUDITORS), superior=org.superior)

        try:
            done = take_step(wf, step, assign, self.ctx.config.fallback_group, cancelled=cancelled, actor=e.actor)
        except InvalidInput as exc:  # an assignment that cannot be resolved
            raise _Stop(exc.message) from None
        r.status, r.error = done.status, done.error
        for each in wf.all_workflows():  # what a save would do: the next command sees only its own changes
            each.dirty.clear()
            each.removed.clear()
        return deque(Event(0, p.type, e.actor if p.by_actor else "system", e.at, p.element_id, p.task_id, p.data)
                     for p in done.events)


class _Stop(Exception):
    """The record cannot be replayed past this event."""


def _label(e: Event) -> str:
    return f"{e.type} of {e.element_id or '-'}" + (f" (task {e.task_id})" if e.task_id else "")


def replay_check(ctx, instance_ids: Iterable[str] | None = None,
                 progress: Callable[[int, int], None] | None = None) -> dict:
    """Replay instances (all when `instance_ids` is None) and compare each with its stored state.

    {"instances": n, "matched": n, "mismatches": [{"instance_id", "business_key", "problems": [{where,
    detail}]}]}; `progress(done, total)` is called after each batch. Only reads the database.
    """
    with ctx.db.transaction(write=False) as tx:
        if instance_ids is None:
            ids = [i for (i,) in tx.all("SELECT id FROM process_instance ORDER BY created_at, id")]
        else:
            ids = list(instance_ids)
        replayer = Replayer(ctx, tx)
        mismatches, done = [], 0
        for start in range(0, len(ids), BATCH):
            batch = ids[start:start + BATCH]
            rows = tx.all(INSTANCE_ROWS + f" WHERE id IN ({tx.in_list(batch)})", batch)
            known = {r[0] for r in rows}
            for missing in [i for i in batch if i not in known]:
                if instance_ids is not None and len(ids) == 1:
                    raise NotFound("request.unknown", request=missing)
                mismatches.append({"instance_id": missing, "business_key": None,
                                   "problems": [{"where": "instance", "detail": "does not exist"}]})
            if rows:
                events = recorded_events(tx, [r[0] for r in rows])
                stored = stored_states(tx, rows, ctx.store.versions)
                for row in sorted(rows, key=lambda r: batch.index(r[0])):
                    r = replayer.replay(row[:4], events[row[0]])
                    compare(r, stored[row[0]])
                    if r.differences:
                        mismatches.append({"instance_id": r.instance_id, "business_key": r.business_key,
                                           "problems": [d.to_dict() for d in r.differences]})
            done += len(batch)
            if progress is not None:
                progress(done, len(ids))
    return {"instances": len(ids), "matched": len(ids) - len(mismatches), "mismatches": mismatches}
