"""Instance state on disk: one row per task, only changed tasks rewritten, specs stored once.

A save writes the instance row (top workflow attributes, version counter), the rows of tasks that
were created, changed or are still open, and deletes the rows of removed tasks; what one step
writes does not grow with the instance's history. Loaded workflows are kept in a small cache keyed
by the instance's lock version, so a command on an unchanged instance does not deserialize it.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from engine.bpmn.runtime import SERIALIZER, XWorkflow, spec_from_dict
from engine.bpmn.timers import use_instance_clock
from engine.db.models import InstanceSubprocess, InstanceTask, ProcessInstance, ProcessVersion

_REG = SERIALIZER.registry


def dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


class SpecCache:
    """Deserialized process specs by process version id; specs are shared, never mutated."""

    def __init__(self):
        self._specs: dict[int, tuple] = {}
        self._lock = threading.Lock()

    def get(self, version: ProcessVersion) -> tuple:
        found = self._specs.get(version.id)
        if found is None:
            dct = json.loads(version.spec)
            spec = spec_from_dict(dct["spec"])
            subs = {name: spec_from_dict(sub) for name, sub in dct["subprocess_specs"].items()}
            use_instance_clock([spec, *subs.values()])
            found = (spec, subs)
            with self._lock:
                self._specs[version.id] = found
        return found


@dataclass
class _Cached:
    lock_version: int
    workflow: XWorkflow


class WorkflowCache:
    """A bounded LRU of workflows by instance id; an entry is taken out while a command uses it."""

    def __init__(self, size: int = 256):
        self.size = size
        self._items: OrderedDict[str, _Cached] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, instance_id: str, lock_version: int) -> XWorkflow | None:
        with self._lock:
            item = self._items.pop(instance_id, None)
        return item.workflow if item is not None and item.lock_version == lock_version else None

    def put(self, instance_id: str, lock_version: int, workflow: XWorkflow) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._items[instance_id] = _Cached(lock_version, workflow)
            self._items.move_to_end(instance_id)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def _wf_id(wf) -> str:
    return "" if wf.parent_task_id is None else str(wf.parent_task_id)


def _meta(wf) -> dict:
    dct = {
        "data": _REG.convert(_REG.clean(wf.data)),
        "correlations": wf.correlations,
        "last_task": str(wf.last_task.id) if wf.last_task is not None else None,
        "success": wf.success,
        "completed": wf.completed,
        "root": str(wf.task_tree.id),
    }
    if wf.parent_task_id is None:
        dct["bpmn_events"] = _REG.convert(wf.bpmn_events)
    else:
        dct.update(parent_task_id=str(wf.parent_task_id), spec=wf.spec.name, typename="BpmnSubWorkflow")
    return dct


def _restore_attributes(wf, meta: dict) -> None:
    wf.success = meta["success"]
    wf.completed = meta.get("completed", False)
    wf.correlations = meta.get("correlations", {})
    wf.data = _REG.restore(meta.get("data", {}))
    wf.task_tree = wf.tasks[uuid.UUID(meta["root"])]
    if meta.get("last_task"):
        wf.last_task = wf.tasks.get(uuid.UUID(meta["last_task"]))


class InstanceStore:
    """Reads and writes the state of process instances."""

    def __init__(self, specs: SpecCache | None = None, cache: WorkflowCache | None = None):
        self.specs = specs or SpecCache()
        self.cache = cache if cache is not None else WorkflowCache()

    def new_workflow(self, version: ProcessVersion, instance_id: str, script_engine) -> XWorkflow:
        spec, subs = self.specs.get(version)
        return XWorkflow(spec, subs, script_engine=script_engine, instance_id=uuid.UUID(instance_id))

    def load(self, session: Session, row: ProcessInstance, script_engine) -> XWorkflow:
        """The instance's workflow, from the cache if nobody changed it since, else from its rows."""
        cached = self.cache.take(row.id, row.lock_version)
        if cached is not None:
            return cached
        version = session.get(ProcessVersion, row.process_version_id)
        spec, subs = self.specs.get(version)
        rows = session.execute(
            select(InstanceTask.workflow_id, InstanceTask.seq, InstanceTask.body)
            .where(InstanceTask.instance_id == row.id).order_by(InstanceTask.seq)).all()
        by_wf: dict[str, list] = {}
        for wf_id, seq, body in rows:
            by_wf.setdefault(wf_id, []).append((seq, body))
        wf = XWorkflow(spec, subs, script_engine=script_engine, deserializing=True)
        self._restore_tasks(wf, by_wf.get("", []))
        meta = json.loads(row.meta)
        _restore_attributes(wf, meta)
        wf.bpmn_events = _REG.restore(meta.get("bpmn_events", []))
        sub_metas = {wid: json.loads(m) for wid, m in session.execute(
            select(InstanceSubprocess.workflow_id, InstanceSubprocess.meta)
            .where(InstanceSubprocess.instance_id == row.id)).all()}
        self._restore_subprocesses(wf, wf, sub_metas, by_wf)
        for each in wf.all_workflows():
            each.dirty.clear()
            each.removed.clear()
        wf.stored_subprocesses = set(sub_metas)
        return wf

    def _restore_tasks(self, wf, rows) -> None:
        for seq, body in rows:
            task = _REG.restore(json.loads(body), workflow=wf)
            task.seq = seq
            task.stored_body = body

    def _restore_subprocesses(self, top, parent, metas: dict, by_wf: dict) -> None:
        # Parents before children: a subprocess needs the task that started it.
        for task in list(parent.tasks.values()):
            meta = metas.get(str(task.id))
            if meta is None:
                continue
            sub = top.create_subprocess_shell(task, meta["spec"])
            self._restore_tasks(sub, by_wf.get(str(task.id), []))
            _restore_attributes(sub, meta)
            sub.completed_event.connect(task.task_spec._on_subworkflow_completed, task)
            self._restore_subprocesses(top, sub, metas, by_wf)

    def save(self, session: Session, row: ProcessInstance, wf: XWorkflow) -> int:
        """Write what changed since the last save; return the number of bytes written."""
        written = 0
        inserts, updates, deletes = [], [], []
        seq = row.task_seq or 0
        stored_subs = getattr(wf, "stored_subprocesses", set())
        current_subs = {_wf_id(s) for s in wf.subprocesses.values()}
        for sub_id in stored_subs - current_subs:
            session.execute(delete(InstanceTask).where(InstanceTask.instance_id == row.id,
                                                       InstanceTask.workflow_id == sub_id))
            session.execute(delete(InstanceSubprocess).where(
                InstanceSubprocess.instance_id == row.id, InstanceSubprocess.workflow_id == sub_id))
        for each in wf.all_workflows():
            wf_id = _wf_id(each)
            deletes.extend(str(tid) for tid in each.removed)
            candidates = each.dirty | set(each.open_tasks)
            changed = False
            for task in sorted((each.tasks[t] for t in candidates if t in each.tasks),
                               key=lambda t: t.order):
                body = dumps(_REG.convert(task))
                if body == task.stored_body:
                    continue
                changed = True
                written += len(body)
                values = {"instance_id": row.id, "task_id": str(task.id), "state": task.state, "body": body}
                if task.seq is None:
                    seq += 1
                    task.seq = seq
                    inserts.append({**values, "workflow_id": wf_id, "seq": seq})
                else:
                    updates.append(values)
                task.stored_body = body
            changed = changed or bool(each.removed)
            if wf_id and (changed or wf_id not in stored_subs):
                meta = dumps(_meta(each))
                written += len(meta)
                stmt = (update(InstanceSubprocess) if wf_id in stored_subs else insert(InstanceSubprocess))
                if wf_id in stored_subs:
                    stmt = stmt.where(InstanceSubprocess.instance_id == row.id,
                                      InstanceSubprocess.workflow_id == wf_id)
                    session.execute(stmt.values(meta=meta))
                else:
                    session.execute(stmt.values(instance_id=row.id, workflow_id=wf_id, meta=meta))
            each.dirty.clear()
            each.removed.clear()
        if deletes:
            session.execute(delete(InstanceTask).where(InstanceTask.instance_id == row.id,
                                                       InstanceTask.task_id.in_(deletes)))
        if inserts:
            session.execute(insert(InstanceTask), inserts)
        if updates:
            session.execute(update(InstanceTask), updates)
        wf.stored_subprocesses = current_subs
        row.task_seq = seq
        row.meta = dumps(_meta(wf))
        return written + len(row.meta)

    def remember(self, instance_id: str, lock_version: int, wf: XWorkflow) -> None:
        """Keep a committed workflow for the next command on the same instance."""
        self.cache.put(instance_id, lock_version, wf)

    def forget(self, instance_id: str) -> None:
        self.cache.take(instance_id, -1)
