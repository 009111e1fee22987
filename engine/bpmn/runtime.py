"""SpiffWorkflow runtime classes as Xiezuo runs them: deterministic task ids, no depth limit.

Task ids are uuid5 of (parent id, child position, spec name), so re-running the recorded inputs of
an instance from its start rebuilds the same task tree; the auditors' replay check rests on it.
"""

from __future__ import annotations

import itertools
import logging
import sys
import time
import uuid
from copy import deepcopy
from datetime import UTC, datetime
from types import ModuleType

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnSubWorkflowConverter,
    BpmnWorkflowConverter,
    SimpleTaskConverter,
)
from SpiffWorkflow.bpmn.serializer.helpers import DefaultRegistry
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import UserTaskConverter as SpiffUserTaskConverter
from SpiffWorkflow.spiff.specs.defaults import ParallelMultiInstanceTask
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskIterator, TaskState

from engine.bpmn.parser import UserTask
from engine.bpmn.timers import SWAPS
from engine.bpmn.voting import VotingMultiInstance


def utcnow() -> datetime:
    return datetime.now(UTC)


TASK_NS = uuid.UUID("6f1f3c4e-52a1-4b8e-9c0b-8d6c2f3e9a10")

# SpiffWorkflow's iterators stop at depth 1000 by default; a loop of ~500 iterations then looks
# finished to is_completed() and to joins that scan from the root. Every loop here must run to its
# real end, so the default depth is lifted for every iterator SpiffWorkflow creates.
for _cls in (TaskIterator, BpmnTaskIterator):
    _defaults = list(_cls.__init__.__defaults__)
    _defaults[1] = sys.maxsize  # (end_at_spec, max_depth, ...)
    _cls.__init__.__defaults__ = tuple(_defaults)


def task_id_for(parent_id: uuid.UUID | str, position: int, spec_name: str) -> uuid.UUID:
    """The id of the child created at `position` under `parent_id` for `spec_name`."""
    return uuid.uuid5(TASK_NS, f"{parent_id}/{position}/{spec_name}")


_creation_order = itertools.count()
NOT_FINISHED = TaskState.NOT_FINISHED_MASK


_SPIFF_TASK_LOG = logging.getLogger("spiff.task")


class XTask(Task):
    """A task whose children get deterministic ids and that keeps its workflow's open index."""

    def __init__(self, workflow, task_spec, parent=None, state=TaskState.MAYBE, id=None):
        super().__init__(workflow, task_spec, parent, state=state, id=id)
        self.order = next(_creation_order)
        self.seq = None  # position in the stored task list; None until first saved
        self.stored_body = None  # the JSON last written for this task
        workflow.dirty.add(self.id)
        if state & NOT_FINISHED:
            workflow.open_tasks[self.id] = self

    def _child_added_notify(self, child):
        super()._child_added_notify(child)
        self.workflow.dirty.add(self.id)

    def _set_state(self, value):
        if value == self._state:
            return
        if _SPIFF_TASK_LOG.isEnabledFor(logging.INFO):
            super()._set_state(value)  # the library's log record, with its extras
        else:  # the same change without building the extras of a record nobody reads
            self.last_state_change = time.time()
            self._state = value
        self.workflow.dirty.add(self.id)
        if value & NOT_FINISHED:
            self.workflow.open_tasks[self.id] = self
        else:
            self.workflow.open_tasks.pop(self.id, None)

    def _add_child(self, task_spec, state=TaskState.MAYBE):
        if self.has_state(TaskState.PREDICTED_MASK) and state & TaskState.PREDICTED_MASK == 0:
            return super()._add_child(task_spec, state)  # raises the library's own error
        position = len(self._children)
        tid = task_id_for(self.id, position, task_spec.name)
        salt = 0
        # A removed child's id may come back (harmless); a live duplicate must not.
        while tid in self.workflow.tasks:
            salt += 1
            tid = task_id_for(self.id, position, f"{task_spec.name}#{salt}")
        task = XTask(self.workflow, task_spec, self, state=state, id=tid)
        task.thread_id = self.thread_id
        if state == TaskState.READY:
            task._ready()
        return task


def _create_root(workflow, root_id: uuid.UUID) -> None:
    # Mirrors Workflow.__init__ (which always uses a random uuid4 for the root).
    workflow.task_tree = XTask(workflow, workflow.spec.start, state=TaskState.FUTURE, id=root_id)
    workflow.task_tree.task_spec._predict(workflow.task_tree, mask=TaskState.NOT_FINISHED_MASK)
    workflow.task_tree._ready()


class _OpenIndex:
    """Finds open tasks through an index instead of walking the whole (deep) task tree.

    SpiffWorkflow walks the tree from the root on every step to find READY and WAITING tasks, so a
    long-running instance slows down quadratically; the open index keeps each step proportional to
    the number of open tasks. Tasks run in creation order, which is stable across save and load.
    """

    open_tasks: dict
    dirty: set  # ids of tasks created or changed since the last save
    removed: dict  # id -> stored seq (None if never saved) of tasks removed since the last save

    def tasks_in_state(self, state: int) -> list:
        return sorted((t for t in self.open_tasks.values() if t.state & state), key=_order)

    def is_completed(self) -> bool:
        if not self.completed and not self.open_tasks:
            self.completed = True
        return self.completed

    def update_waiting_tasks(self) -> None:
        for task in self.tasks_in_state(TaskState.WAITING):
            task.task_spec._update(task)

    def _remove_task(self, task_id) -> None:
        task = self.tasks[task_id]
        if task._parent is not None:
            self.dirty.add(task._parent)
        for child in task.children:
            self._remove_task(child.id)
        self.open_tasks.pop(task_id, None)
        self.removed[task_id] = task.seq
        super()._remove_task(task_id)

    def _init_index(self) -> None:
        self.open_tasks, self.dirty, self.removed = {}, set(), {}


def _order(task) -> int:
    return task.order


class XSubWorkflow(_OpenIndex, BpmnSubWorkflow):
    """A subprocess or call activity whose root id follows from the task that started it."""

    def __init__(self, spec, parent_task_id, top_workflow, deserializing=False, **kwargs):
        self._init_index()
        super().__init__(spec, parent_task_id, top_workflow, deserializing=True, **kwargs)
        if not deserializing:
            _create_root(self, task_id_for(parent_task_id, 0, f"root:{spec.name}"))


class XWorkflow(_OpenIndex, BpmnWorkflow):
    """The top-level workflow of one process instance."""

    def __init__(self, spec, subprocess_specs=None, script_engine=None, instance_id=None,
                 deserializing=False, **kwargs):
        self._init_index()
        self.clock = utcnow
        super().__init__(spec, subprocess_specs, script_engine, deserializing=True, **kwargs)
        if not deserializing:
            seed = instance_id or uuid.uuid4()
            _create_root(self, task_id_for(seed, 0, f"root:{spec.name}"))

    def create_subprocess(self, my_task, spec_name):
        subprocess = XSubWorkflow(self.subprocess_specs[spec_name], parent_task_id=my_task.id,
                                  top_workflow=self)
        self.subprocesses[my_task.id] = subprocess
        return subprocess

    def create_subprocess_shell(self, my_task, spec_name):
        """An empty subprocess for `my_task`, to be filled from storage."""
        subprocess = XSubWorkflow(self.subprocess_specs[spec_name], parent_task_id=my_task.id,
                                  top_workflow=self, deserializing=True)
        self.subprocesses[my_task.id] = subprocess
        return subprocess

    def _do_engine_steps(self, will_complete_task=None, did_complete_task=None):
        # BpmnWorkflow._do_engine_steps with the open index instead of a tree walk.
        def update_workflow(wf):
            count = 0
            for task in wf.tasks_in_state(TaskState.READY):
                if not task.task_spec.manual and task.state == TaskState.READY:
                    if will_complete_task is not None:
                        will_complete_task(task)
                    task.run()
                    count += 1
                    if did_complete_task is not None:
                        did_complete_task(task)
            return count

        active = self.get_active_subprocesses()
        for subprocess in sorted(active, key=lambda v: v.depth, reverse=True):
            count = None
            while count is None or count > 0:
                count = update_workflow(subprocess)
            if subprocess.parent_task_id is not None:
                task = self.get_task_from_id(subprocess.parent_task_id)
                task.task_spec._update(task)
        count = update_workflow(self)
        return count > 0 or len(self.get_active_subprocesses()) > len(active)

    def find_task(self, task_id):
        """The task with this id in any (sub)workflow, or None."""
        task = self.tasks.get(task_id)
        if task is None:
            for sub in self.subprocesses.values():
                task = sub.tasks.get(task_id)
                if task is not None:
                    break
        return task

    def all_workflows(self):
        """The top workflow and every subprocess."""
        return [self, *self.subprocesses.values()]

    def unfinished_tasks(self) -> list[Task]:
        """Every unfinished task of every (sub)workflow, by a full scan (not the index)."""
        return [t for wf in self.all_workflows() for t in wf.tasks.values() if t.state & NOT_FINISHED]

    def really_completed(self) -> bool:
        """True only when no task anywhere is unfinished (guards the iterator's old limit)."""
        return self.is_completed() and not self.unfinished_tasks()


class UserTaskConverter(SpiffUserTaskConverter):
    """Stores a user task's form and assignment attributes with the spec."""

    def to_dict(self, spec):
        dct = super().to_dict(spec)
        dct.update(form=spec.form.to_dict(), assignee=spec.assignee,
                   candidate_users=spec.candidate_users, candidate_groups=spec.candidate_groups,
                   due_date=spec.due_date, priority=spec.priority)
        return dct


class XTaskConverter(SimpleTaskConverter):
    """Each task keeps its whole data, so a task row never depends on its parent's row."""

    def from_dict(self, dct, workflow):
        task = super().from_dict(dct, workflow)
        # The library's converter hands every definite catching event (FUTURE, READY, STARTED as
        # well) back to the event manager, so refresh_timers would arm a timer the flow has not
        # reached and the sweep fire it beside the step still open. In memory only a WAITING
        # event is awaited; a restored workflow must await the same.
        if task.state != TaskState.WAITING:
            workflow.top_workflow.event_manager.remove_task(task)
        return task


_PLAIN = frozenset({str, int, float, bool, type(None)})


class FastRegistry(DefaultRegistry):
    """The library's registry with a short way through plain values: task data is mostly strings,
    numbers, lists and dicts, and converting each through the registry's lookups was a third of a
    command's time. The result is the same: callables and modules are left out of dicts, registered
    types (datetime, UUID, the workflow's own classes) are converted as before."""

    def convert(self, obj):
        kind = obj.__class__
        if kind in _PLAIN:
            return obj
        if not self._encoder_mode:
            if kind is dict:
                return {k: self.convert(v) for k, v in obj.items() if not callable(v) and not isinstance(v, ModuleType)}
            if kind is list:
                return [self.convert(item) for item in obj]
        return super().convert(obj)


def _registry():
    config = dict(SPIFF_CONFIG)
    config.pop(BpmnWorkflow)
    config.pop(BpmnSubWorkflow)
    config.pop(Task)
    registry = BpmnWorkflowSerializer.configure(config, FastRegistry())
    UserTaskConverter(UserTask, registry, typename="XiezuoUserTask")
    for base, swapped in SWAPS.items():
        config[base](swapped, registry, typename=f"Xiezuo{base.__name__}")
    config[ParallelMultiInstanceTask](VotingMultiInstance, registry, typename="XiezuoVotingMultiInstance")
    BpmnWorkflowConverter(XWorkflow, registry, typename="BpmnWorkflow")
    BpmnSubWorkflowConverter(XSubWorkflow, registry, typename="BpmnSubWorkflow")
    XTaskConverter(XTask, registry, typename="Task")
    return registry


SERIALIZER = BpmnWorkflowSerializer(_registry())


def spec_to_dict(spec) -> dict:
    """Serialize a process spec once, to be stored with its version."""
    return SERIALIZER.to_dict(spec)


def spec_from_dict(dct: dict):
    return SERIALIZER.from_dict(deepcopy(dct))


def is_subworkflow_task(task) -> bool:
    return isinstance(task.task_spec, SubWorkflowTask)


def element_of(task) -> str | None:
    """The BPMN element id of a task (its spec's name for the ones the parser makes up)."""
    return getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name
