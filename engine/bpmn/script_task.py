"""Which task a script runs for, for the services it calls: a notice sent from a boundary event's
path names the waiting activity the event is attached to (the no-progress urge opens the very task
to post progress on), not only its request."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.util.task import TaskState

SCRIPT_TASK: ContextVar[Any] = ContextVar("xiezuo_script_task", default=None)


class TaskScriptEngine(PythonScriptEngine):
    """SpiffWorkflow's script engine, remembering the task whose script runs."""

    def execute(self, task, script, external_context=None):
        token = SCRIPT_TASK.set(task)
        try:
            return super().execute(task, script, external_context)
        finally:
            SCRIPT_TASK.reset(token)


def attached_activity() -> Any:
    """The activity still waiting whose boundary event led to the script running now, if any."""
    task = SCRIPT_TASK.get()
    while task is not None and not isinstance(task.task_spec, BoundaryEventSplit):
        task = task.parent
    if task is None:
        return None
    return next((child for child in task.children if not isinstance(child.task_spec, task.task_spec.event_type)
                 and not child.has_state(TaskState.FINISHED_MASK)), None)
