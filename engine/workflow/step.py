"""One step of a workflow and the events it produces: the single place they are worked out.

A command (a start, a completion, a retry, a timer's firing, a cancellation, a change beside the
diagram) moves a workflow once; `take_step` runs it and returns what happened: the timers that
fired, the user tasks that left the inbox (completed, cancelled), the ones that opened with their
assignment, and how the instance stands afterwards. The command runner (engine.workflow.runner)
stores these events and the inbox rows; the audit replay (engine.audit.replay) runs the same
function on the recorded inputs and compares. A new operation is written once and replays by
construction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.specs.defaults import EndEvent
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.parser import UserTask
from engine.bpmn.runtime import XWorkflow, element_of
from engine.errors import InstanceErrored, InvalidInput

READY = TaskState.READY
WAITING = TaskState.WAITING


@dataclass(frozen=True)
class Produced:
    """One event of a step: written by the command's actor (`by_actor`) or by the system."""

    type: str
    element_id: str | None
    task_id: str | None
    data: dict = field(default_factory=dict)
    by_actor: bool = False


@dataclass
class Outcome:
    """What one step did to the workflow."""

    events: list[Produced]
    opened: list[tuple[Any, Any]]  # (task, its assignment) of each user task that became ready
    left: list[str]  # ids of the user tasks that are no longer ready (completed or cancelled)
    status: str  # running, completed, errored or cancelled
    error: dict | None = None
    withdrawn: list[str] = field(default_factory=list)  # cancelled because their vote closed (会签/或签)


@dataclass(frozen=True)
class Before:
    """The workflow's open tasks before a step, and the children of each waiting timer (a cycle
    timer stays waiting and adds a child each time it fires)."""

    states: dict
    children: dict


def user_tasks(wf: XWorkflow, state: int) -> dict:
    """The workflow's open user tasks in `state`, by task id."""
    return {t.id: t for each in wf.all_workflows() for t in each.open_tasks.values()
            if t.state & state and isinstance(t.task_spec, UserTask)}


def before(wf: XWorkflow) -> Before:
    states = {t.id: (t.state, t) for each in wf.all_workflows() for t in each.open_tasks.values()}
    children = {tid: len(t._children) for tid, (state, t) in states.items() if state == WAITING and _is_timer(t)}
    return Before(states, children)


def _is_timer(task) -> bool:
    return isinstance(getattr(task.task_spec, "event_definition", None), TimerEventDefinition)


def _fired_timers(wf: XWorkflow, seen: Before) -> list:
    """Timers that fired during the step: also those created and fired within it, and cycles."""
    fired = []
    for each in wf.all_workflows():
        for tid in each.dirty:
            task = each.tasks.get(tid)
            if task is None or not _is_timer(task):
                continue
            # A timer completes only by firing (one that is not needed any more is cancelled).
            completed = task.state == TaskState.COMPLETED and seen.states.get(tid, (None,))[0] != TaskState.COMPLETED
            cycled = task.state == WAITING and len(task._children) > seen.children.get(tid, len(task._children))
            if completed or cycled:
                fired.append(task)
    return sorted(fired, key=lambda t: t.order)


def error_of(exc: Exception) -> dict:
    """What an instance records of the error that stopped it: the element and the message."""
    task = getattr(exc, "task", None)
    message = str(exc)
    notes = getattr(exc, "__notes__", None) or getattr(exc, "notes", None)
    if notes:
        message = f"{message} ({'; '.join(str(n) for n in notes)})"
    cause = exc.__context__ or getattr(exc, "error", None)
    if cause is not None and str(cause) and str(cause) not in message:
        message = f"{message}: {cause}"
    return {"element_id": element_of(task) if task is not None else None, "message": message}


def run_step(wf: XWorkflow, step: Callable[[], None]) -> dict | None:
    """Run `step` (a completion, a timer's firing) and the engine's own steps after it; the error
    that stopped the instance, if any."""
    try:
        step()
        wf.refresh_timers()
        wf.do_engine_steps()
        if wf.is_completed() and not wf.really_completed():
            raise InstanceErrored("the engine reported completion while tasks are still open")
    except (SpiffWorkflowException, InstanceErrored) as exc:
        return error_of(exc)
    return None


def ready_data(who) -> dict:
    """What a task_ready event records of the task's assignment; the auditors the diagram named,
    who may not take it, only when there were any."""
    data = {"assignee": who.assignee, "candidate_users": who.candidate_users,
            "candidate_groups": who.candidate_groups,
            "due_at": who.due_at.isoformat() if who.due_at else None, "priority": who.priority}
    return {**data, "auditors_passed_over": who.passed_over} if who.passed_over else data


def assignment(task, assign: Callable):
    """`assign(task)`, a failure naming the element."""
    try:
        return assign(task)
    except SpiffWorkflowException as exc:
        raise InvalidInput("assignment.failed", element=element_of(task), detail=str(exc)) from None


def opened_events(task, who, fallback_group: str) -> list[Produced]:
    """The events of a user task that became ready: task_ready with its assignment, and
    assignment_fallback when nobody the diagram named could take it (with the rule that applied when
    it was not the fallback group)."""
    events = [Produced("task_ready", element_of(task), str(task.id), ready_data(who))]
    if who.fallback:
        rule = {"rule": who.fallback_to} if who.fallback_to else {}
        events.append(Produced("assignment_fallback", element_of(task), str(task.id),
                               {"group": fallback_group, **rule}))
    return events


AUTO_PASSED, SKIPPED = "task_auto_passed", "task_skipped"  # tasks the engine completes by itself
_AUTO_ROUNDS = 50  # steps passed by themselves one after the other, at most, in one command


def automatic(task, who, actor: str | None) -> tuple[str, dict, dict] | None:
    """Whether the engine completes a task that just opened, by the step's approver rules: (event,
    the values the task takes, what the event records), or None. A step whose approver is `actor`
    (who completed the step before, in this command) passes with its batch decision when its process
    allows (autoPassSameApprover); a step nobody can take passes with nothing when its noAssignee is skip."""
    form = task.task_spec.form
    if who.fallback_to == "skip":  # nobody answered: the step's fields are empty, for the gateways after it
        return SKIPPED, form.unanswered(), {"rule": "noAssignee=skip"}
    if form.rules.get("autoPass") == "sameApprover" and actor and who.assignee == actor:
        values = form.batch_values("")  # the event says why: pages tell it in the reader's language
        return AUTO_PASSED, values, {"rule": "autoPassSameApprover", "approver": actor, "data": values}
    return None


def take_step(wf: XWorkflow, step: Callable[[], None] | None, assign: Callable, fallback_group: str, *,
              cancelled: bool = False, actor: str | None = None) -> Outcome:
    """Run one step (or cancel the workflow) and work out its events. `assign(task)` resolves a
    task that became ready to its assignment (engine.workflow.assignment.resolve at the step's time).
    Tasks the approver rules pass (`automatic`, `actor` being who moved the workflow) are completed
    in the same step, each with its event, until none opens that the rules pass."""
    seen = before(wf)
    if cancelled:
        wf.cancel()
        return outcome(wf, seen, None, assign, fallback_group, cancelled=True)
    done = outcome(wf, seen, run_step(wf, step or (lambda: None)), assign, fallback_group, timers=True)
    for _round in range(_AUTO_ROUNDS):
        auto = [(task, found) for task, who in done.opened if (found := automatic(task, who, actor))]
        if not auto or done.status != "running":
            break
        seen = before(wf)

        def passing(auto=auto):
            for task, (_kind, values, _data) in auto:
                task.data.update(values)
                task.run()

        nxt = outcome(wf, seen, run_step(wf, passing), assign, fallback_group)
        passed = {str(task.id) for task, _found in auto}
        done = Outcome(done.events + [Produced(kind, element_of(task), str(task.id), data)
                                      for task, (kind, _values, data) in auto] + nxt.events,
                       [(t, w) for t, w in done.opened if str(t.id) not in passed] + nxt.opened,
                       done.left + [t for t in nxt.left if t not in passed], nxt.status, nxt.error,
                       done.withdrawn + nxt.withdrawn)
    return done


def outcome(wf: XWorkflow, seen: Before, error: dict | None, assign: Callable, fallback_group: str, *,
            cancelled: bool = False, timers: bool = False) -> Outcome:
    """The events of a step from the workflow before (`seen`) and now: timers fired (when a step
    ran), user tasks cancelled, user tasks opened with their assignment, the instance's end."""
    events: list[Produced] = []
    if timers:
        events += [Produced("timer_fired", element_of(t), str(t.id)) for t in _fired_timers(wf, seen)]
    ready_now = user_tasks(wf, READY)
    left = [tid for tid, (state, task) in seen.states.items()
            if state == READY and isinstance(task.task_spec, UserTask) and tid not in ready_now]
    withdrawn = []
    for tid in left:
        task = seen.states[tid][1]
        if task.state & (TaskState.CANCELLED | TaskState.ERROR) or wf.find_task(tid) is None:
            events.append(Produced("task_cancelled", element_of(task), str(tid), by_actor=True))
            if task.task_spec.form.rules.get("voteRule"):
                withdrawn.append(str(tid))
    opened = []
    for task in sorted((t for tid, t in ready_now.items() if seen.states.get(tid, (None,))[0] != READY),
                       key=lambda t: t.order):
        who = assignment(task, assign)
        opened.append((task, who))
        events += opened_events(task, who, fallback_group)
    if error is not None:
        status = "errored"
        events.append(Produced("instance_errored", error["element_id"], None, error, by_actor=True))
    elif cancelled:  # stopped, not completed: the caller records why
        status = "cancelled"
    elif wf.is_completed():
        status = "completed"
        ends = [wf.tasks[tid] for tid in wf.dirty if tid in wf.tasks
                and isinstance(wf.tasks[tid].task_spec, EndEvent) and wf.tasks[tid].state == TaskState.COMPLETED]
        end = element_of(max(ends, key=lambda t: t.order)) if ends else None
        events.append(Produced("instance_completed", end, None, {"end_event": end}, by_actor=True))
    else:
        status = "running"
    return Outcome(events, opened, [str(t) for t in left], status, error, withdrawn)


# --- the inputs that move a workflow, each built from what its event records ---------------------
# The command that takes an input and the replay that re-executes it from the audit chain build the
# step here, from the same values, so an input is written once.

def start_data(wf: XWorkflow, values: dict, initiator: str, business_key: str | None) -> None:
    """Give a new workflow its start data (instance_started records `values` and the business key)."""
    wf.task_tree.data.update(values)
    wf.task_tree.data.update(initiator=initiator, business_key=business_key)


def completing(task, values: dict) -> Callable[[], None]:
    """The step of a completion: the task takes `values` (those the form keeps in the task data) and runs."""
    def step():
        task.data.update(values)
        task.run()

    return step


def failed_tasks(wf: XWorkflow) -> list:
    """The tasks an error stopped, in every (sub)workflow."""
    return [t for each in wf.all_workflows() for t in each.tasks.values() if t.state == TaskState.ERROR]


def retrying(failed: list, data: dict | None) -> Callable[[], None]:
    """The step of a retry: the failed tasks take the corrected `data` and are ready to run again."""
    def step():
        for task in failed:
            task.data.update(data or {})
            task._set_state(READY)

    return step
