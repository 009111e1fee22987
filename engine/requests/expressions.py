"""The functions BPMN expressions and scripts of the collaboration may call: the organisation, the
calendar, the progress posted on a plan task, who is still waiting, notify().

They are host code registered with the sandbox (it never traces or interrupts them) and read
through caches; `notify` only queues a message (engine.workflow.notices).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from sqlalchemy import select

from engine.db.models import InboxTask
from engine.db.tx import Tx
from engine.errors import InvalidInput
from engine.org.calendar import load_calendar
from engine.org.directory import directory
from engine.requests.record_forms import plan_task_key
from engine.requests.records import plan_deadline
from engine.workflow.notices import current_instance, notify

REMIND_AT = time(9, 0)  # a deadline given as a date is reminded of at 09:00 local time


def script_services(ctx) -> dict[str, Callable]:
    """Name -> function, for the script engine of `ctx`."""
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

    def end_of_day(day: Any) -> str:
        """The end of the working day of `day` (a date, or the date of a moment), local time: what a
        plan date of 12-12 means as a deadline."""
        return plan_deadline(date.fromisoformat(str(day).strip()[:10]), zone).isoformat()

    def waiting_on(element_id: str) -> list[str]:
        """Who still has to act on this instance's open tasks of `element_id` (assignees, else
        candidate users), as committed before the current step."""
        instance_id = current_instance()
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
        instance_id = current_instance()
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
        "end_of_day": end_of_day,
        "notify": notify,
    }
