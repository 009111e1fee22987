"""Timer events that read the instance's clock instead of the wall clock.

SpiffWorkflow's timers call datetime.now() directly; here every timer asks the top workflow's
`clock`, so tests move time forward without sleeping and the sweep fires with the time it was given.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.util.task import TaskState


def _now(my_task) -> datetime:
    return my_task.workflow.top_workflow.clock()


class XTimeDateTimer(TimeDateEventDefinition):
    def has_fired(self, my_task):
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            event_value = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            if isinstance(event_value, datetime):
                event_value = event_value.isoformat()
            my_task._set_internal_data(event_value=event_value)
        if TimerEventDefinition.parse_time_or_duration(event_value) <= _now(my_task):
            my_task._set_internal_data(event_fired=True)
        return my_task._get_internal_data("event_fired", False)


class XDurationTimer(DurationTimerEventDefinition):
    def has_fired(self, my_task):
        event_value = my_task._get_internal_data("event_value")
        now = _now(my_task)
        if event_value is None:
            expression = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            parsed = TimerEventDefinition.parse_iso_duration(expression)
            event_value = (now + TimerEventDefinition.get_timedelta_from_start(parsed, now)).isoformat()
            my_task._set_internal_data(event_value=event_value)
        if TimerEventDefinition.get_datetime(event_value) <= now:
            my_task._set_internal_data(event_fired=True)
        return my_task._get_internal_data("event_fired", False)


class XCycleTimer(CycleTimerEventDefinition):
    def cycle_complete(self, my_task):
        now = _now(my_task)
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            expression = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            cycles, start, duration = _recurring(expression, now)
            event_value = {"cycles": cycles, "next": start.isoformat(),
                           "duration": duration.total_seconds()}
        ready = False
        if event_value["cycles"] != 0:
            next_event = datetime.fromisoformat(event_value["next"])
            if next_event <= now:
                event_value["next"] = (next_event + timedelta(seconds=event_value["duration"])).isoformat()
                event_value["cycles"] -= 1
                ready = True
        else:
            my_task.internal_data.pop("event_value", None)
            my_task.internal_data["event_fired"] = True
        my_task._set_internal_data(event_value=event_value)
        return ready


def _recurring(expression: str, now: datetime):
    parts = expression.upper().replace("--", "/").strip("R").split("/")
    if len(parts) == 2 and parts[1].startswith("P"):
        # "R3/PT1H": the library would start from the wall clock; start from the instance clock.
        cycles = int(parts[0]) if parts[0] else -1
        duration = TimerEventDefinition.get_timedelta_from_start(
            TimerEventDefinition.parse_iso_duration(parts[1]), now)
        return cycles, now + duration, duration
    return TimerEventDefinition.parse_iso_recurring_interval(expression)


SWAPS = {
    TimeDateEventDefinition: XTimeDateTimer,
    DurationTimerEventDefinition: XDurationTimer,
    CycleTimerEventDefinition: XCycleTimer,
}


def use_instance_clock(specs) -> None:
    """Make every timer of the given process specs read the instance clock."""
    for spec in specs:
        for task_spec in spec.task_specs.values():
            _swap(getattr(task_spec, "event_definition", None))


def _swap(definition) -> None:
    if definition is None:
        return
    if type(definition) in SWAPS:
        definition.__class__ = SWAPS[type(definition)]
    elif isinstance(definition, MultipleEventDefinition):
        for inner in definition.event_definitions:
            _swap(inner)


def waiting_timers(wf) -> list[tuple]:
    """(task, due time) of every timer the flow has reached and that waits to fire, soonest first.

    The top workflow's event manager holds the waiting events of every (sub)workflow, and only
    those the flow has reached (a restored workflow gets none of its predicted ones back); a walk
    over WAITING tasks would also meet joins, which wait for branches, not for a time.
    """
    found = [(task, timer_due(task)) for task in wf.event_manager.tasks.values() if task.state == TaskState.WAITING]
    return sorted(((task, due) for task, due in found if due is not None), key=lambda pair: pair[1])


def timer_due(task) -> datetime | None:
    """When a waiting timer task is due, or None if it is not a timer or not yet scheduled."""
    definition = task.task_spec.event_definition
    values = [definition] if not isinstance(definition, MultipleEventDefinition) else \
        definition.event_definitions
    if not any(isinstance(d, TimerEventDefinition) for d in values):
        return None
    value = task._get_internal_data("event_value")
    if value is None:
        return None
    if isinstance(value, dict):
        return datetime.fromisoformat(value["next"]) if value.get("cycles") != 0 else None
    try:
        due = TimerEventDefinition.parse_time_or_duration(value)
    except Exception:
        return None
    if isinstance(due, datetime):
        return due if due.tzinfo else due.replace(tzinfo=UTC)
    return None
