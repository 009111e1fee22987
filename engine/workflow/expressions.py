"""The functions BPMN expressions and scripts may call: the organisation, the calendar, the progress
posted on a plan task, notify().

They are host code registered with the sandbox (it never traces or interrupts them) and read
through caches; `notify` only queues a message, which the running command writes into the
notification outbox in its own transaction, so a rolled-back command notifies nobody.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine.errors import InvalidInput

KINDS = ("task", "return", "reminder", "urge", "escalation", "red_warning", "info")
REMIND_AT = time(9, 0)  # a deadline given as a date is reminded of at 09:00 local time

_QUEUE: ContextVar[list[dict] | None] = ContextVar("xiezuo_notifications", default=None)
_INSTANCE: ContextVar[str | None] = ContextVar("xiezuo_instance", default=None)


@contextmanager
def running_instance(instance_id: str) -> Iterator[None]:
    """Mark which instance the engine is stepping, for functions that ask about "this request"."""
    token = _INSTANCE.set(instance_id)
    try:
        yield
    finally:
        _INSTANCE.reset(token)


@contextmanager
def collecting_notifications() -> Iterator[list[dict]]:
    """Collect what notify() is asked during a command, for the command to write."""
    queued: list[dict] = []
    token = _QUEUE.set(queued)
    try:
        yield queued
    finally:
        _QUEUE.reset(token)


def notify(recipients: Any, kind: str, message: str) -> None:
    """Queue a notification for each recipient (a user id or a list of them)."""
    queued = _QUEUE.get()
    if queued is None:
        raise RuntimeError("notify() is only available while a process instance runs")
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind '{kind}' (known: {', '.join(KINDS)})")
    people = [recipients] if isinstance(recipients, str) else list(recipients or [])
    for person in dict.fromkeys(str(p) for p in people if p):
        queued.append({"recipient": person, "kind": kind, "message": str(message)[:2000]})


def notify_new_task(recipients: list[str], message: str, task_id: str) -> None:
    """Queue the notice of a task that opened for `recipients` (kind `task`).

    The running command writes it only to those whom nothing else of the same command notified:
    a diagram that tells the person more (a return with its reason, a plan task with its dates)
    speaks instead of this generic notice.
    """
    queued = _QUEUE.get()
    if queued is None:
        return  # no command running (a read of a task): nothing to tell
    for person in dict.fromkeys(p for p in recipients if p):
        queued.append({"recipient": person, "kind": "task", "message": message[:2000], "task_id": task_id,
                       "generic": True})


def notes_to_write(queued: list[dict]) -> list[dict]:
    """The notifications a command writes: the generic new-task notice of a person whom the same
    command notified otherwise is dropped, and that other message names the new task instead (the
    notice of a return opens the task to rework)."""
    told = {n["recipient"] for n in queued if not n.get("generic")}
    new_task = {}
    for n in queued:
        if n.get("generic"):
            new_task.setdefault(n["recipient"], n["task_id"])
    return [n if n.get("generic") or n.get("task_id") or n["recipient"] not in new_task
            else {**n, "task_id": new_task[n["recipient"]]}
            for n in queued if not (n.get("generic") and n["recipient"] in told)]


def script_services(ctx) -> dict[str, Callable]:
    """Name -> function, for the script engine of `ctx`."""
    from sqlalchemy import select

    from engine.db.models import InboxTask
    from engine.db.tx import Tx
    from engine.org.calendar import load_calendar
    from engine.org.directory import directory
    from engine.requests.record_forms import plan_task_key

    zone = ZoneInfo(ctx.config.timezone)

    def working_days(n: int) -> str:
        return load_calendar(ctx).add_working_days(ctx.now(), int(n)).isoformat()

    def response_due(urgency: str) -> str:
        try:
            return load_calendar(ctx).response_due(ctx.now(), str(urgency)).isoformat()
        except InvalidInput as exc:
            raise ValueError(exc.message) from None

    def before(moment: Any, duration: str) -> str:
        """`moment` minus an ISO 8601 duration; a bare date means 09:00 local time on that date."""
        if isinstance(moment, str):
            text = moment.strip()
            moment = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        if isinstance(moment, date) and not isinstance(moment, datetime):
            moment = datetime.combine(moment, REMIND_AT, zone)
        elif moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        parsed = TimerEventDefinition.parse_iso_duration(str(duration))
        delta = TimerEventDefinition.get_timedelta_from_start(parsed, moment)
        return (moment - delta if isinstance(delta, timedelta) else moment).isoformat()

    def waiting_on(element_id: str) -> list[str]:
        """Who still has to act on this instance's open tasks of `element_id` (assignees, else
        candidate users), as committed before the current step."""
        instance_id = _INSTANCE.get()
        if instance_id is None:
            raise RuntimeError("waiting_on() is only available while a process instance runs")
        with ctx.db.read() as s:
            rows = s.execute(select(InboxTask.assignee, InboxTask.candidate_users).where(
                InboxTask.instance_id == instance_id, InboxTask.element_id == str(element_id))).all()
        people: list[str] = []
        for assignee, candidates in rows:
            people.extend([assignee] if assignee else [c for c in candidates.split(",") if c])
        return list(dict.fromkeys(people))

    def hours_since_progress(plan_task: Any) -> float:
        """Hours, to the minute, since the latest progress on `plan_task` (a row of the plan, as the
        task data carries it) in this instance; without any, since its owner's task opened (else
        since the instance started). Read as committed before the current step."""
        instance_id = _INSTANCE.get()
        if instance_id is None:
            raise RuntimeError("hours_since_progress() is only available while a process instance runs")
        with ctx.db.transaction(write=False) as tx:
            key = plan_task_key(tx, instance_id, plan_task)
            found = tx.one("SELECT created_at FROM progress_update WHERE id = (SELECT max(id) FROM progress_update "
                           "WHERE instance_id = ? AND plan_task_key = ?)", (instance_id, key)) if key else None
            if found is None:
                owner = plan_task.get("owner") if isinstance(plan_task, dict) else None
                found = tx.one("SELECT min(created_at) FROM inbox_task WHERE instance_id = ? AND assignee = ?",
                               (instance_id, owner))
            if found is None or found[0] is None:
                found = tx.one("SELECT created_at FROM process_instance WHERE id = ?", (instance_id,))
        since = Tx.when(found[0])
        return round((ctx.now() - since).total_seconds() / 60) / 60

    def local_time(moment: Any) -> str:
        """A date and time as people read it here: "2026-11-05 10:00" in the organisation's zone."""
        value = datetime.fromisoformat(str(moment).strip()) if not isinstance(moment, datetime) else moment
        value = value.replace(tzinfo=zone) if value.tzinfo is None else value.astimezone(zone)
        return value.strftime("%Y-%m-%d %H:%M")

    return {
        "local_time": local_time,
        "waiting_on": waiting_on,
        "hours_since_progress": hours_since_progress,
        "head": lambda dept: directory(ctx).head(dept),
        "interface_person": lambda dept: directory(ctx).interface_person(dept),
        "superior": lambda user: directory(ctx).superior(user),
        "common_superior": lambda users: directory(ctx).common_superior(users),
        "department_of": lambda user: directory(ctx).department_of(user),
        "members": lambda group: directory(ctx).members(str(group)),
        "working_days": working_days,
        "response_due": response_due,
        "before": before,
        "notify": notify,
    }
