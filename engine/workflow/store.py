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
from dataclasses import dataclass, fields
from datetime import datetime

from SpiffWorkflow.util.task import TaskState

from engine.bpmn.forms import Form
from engine.bpmn.runtime import SERIALIZER, XWorkflow, spec_from_dict
from engine.bpmn.timers import use_instance_clock
from engine.bpmn.voting import use_voting
from engine.db.models.workflow import TASK_INSERT, TASK_UPDATE
from engine.db.tx import Tx
from engine.errors import CommandTooLarge, NotFound, StaleInstance
from engine.messages import Msg
from engine.workflow.state_versions import SERIALIZER_VERSION, VERSIONS, StateVersions, StoredState

_REG = SERIALIZER.registry


dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode  # built once, used per task


class SpecCache:
    """Deserialized process specs by process version id; specs are shared, never mutated."""

    def __init__(self):
        self._specs: dict[int, tuple] = {}
        self._lock = threading.Lock()

    def get(self, tx: Tx, version_id: int) -> tuple:
        """(spec, subprocess specs) of a version."""
        return self._entry(tx, version_id)[:2]

    def start_form(self, tx: Tx, version_id: int) -> Form:
        """The form of the version's start event (empty if it has none)."""
        return self._entry(tx, version_id)[2]

    def _entry(self, tx: Tx, version_id: int) -> tuple:
        found = self._specs.get(version_id)
        if found is None:
            text = tx.one("SELECT spec FROM process_version WHERE id = ?", (version_id,))[0]
            dct = json.loads(text)
            spec = spec_from_dict(dct["spec"])
            subs = {name: spec_from_dict(sub) for name, sub in dct["subprocess_specs"].items()}
            use_instance_clock([spec, *subs.values()])
            use_voting([spec, *subs.values()])
            found = (spec, subs, Form.from_dict(dct.get("start_form")))
            with self._lock:
                self._specs[version_id] = found
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


def _utf8(text: str) -> int:
    """The bytes of `text` in UTF-8 (isascii is a flag lookup, so ASCII text costs nothing)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _data_bytes(text: str) -> int:
    """The bytes of the task data (and SpiffWorkflow's internal data) in a task body or a meta."""
    found = json.loads(text)
    return sum(_utf8(dumps(found[key])) for key in ("data", "internal_data") if key in found)


def _too_large(written: int, limit: int, tasks: list, sizes: dict) -> CommandTooLarge:
    """The refusal of a save, naming the task whose data grew most (task data is copied from a task
    to the next, so that is the one that added the bulk, not the ones after it), or, when no task
    added much, the one holding the most."""
    def grown(task) -> int:
        parent = task.parent
        if parent is None:
            return sizes[task.id]
        stored = getattr(parent, "stored_body", None)
        return sizes[task.id] - sizes.get(parent.id, _data_bytes(stored) if stored else 0)

    if not tasks:
        return CommandTooLarge(written, limit)
    culprit = max(tasks, key=grown)
    growth = grown(culprit)
    if growth * 4 < written:
        culprit = max(tasks, key=lambda t: sizes[t.id])
    spec = culprit.task_spec
    element, name = getattr(spec, "bpmn_id", None) or spec.name, getattr(spec, "bpmn_name", None)
    why = (Msg("command.grew_most", task=name or element, element=element, size=growth) if growth * 4 >= written
           else Msg("command.copies_large", task=name or element, element=element, size=sizes[culprit.id]))
    return CommandTooLarge(written, limit, element, name, why)


def workflow_key(wf) -> str:
    """How a stored (sub)workflow is keyed: "" for the top one, else the task that runs it."""
    return "" if wf.parent_task_id is None else str(wf.parent_task_id)


def workflow_meta(wf) -> dict:
    """What is stored of a (sub)workflow beside its tasks: its data, correlations and bookkeeping."""
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
    wf.completed = meta["completed"]
    wf.correlations = meta["correlations"]
    wf.data = _REG.restore(meta["data"])
    wf.task_tree = wf.tasks[uuid.UUID(meta["root"])]
    if meta.get("last_task"):
        wf.last_task = wf.tasks.get(uuid.UUID(meta["last_task"]))


@dataclass
class InstanceRow:
    """A process_instance row as the command path reads and writes it."""

    id: str
    process_version_id: int
    process_id: str
    process_version: int
    business_key: str | None
    initiator: str
    status: str
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    next_due_at: datetime | None
    lock_version: int
    task_seq: int
    meta: str
    error: str | None
    audit_seq: int
    audit_hash: str
    state_version: int = VERSIONS.current
    serializer_version: str = SERIALIZER_VERSION
    stored: bool = True  # False until the row's first write
    written: tuple = ()  # the changing columns' values as last read or written

    @classmethod
    def from_db(cls, values: tuple) -> InstanceRow:
        row = cls(*values)
        row.created_at, row.updated_at = Tx.when(row.created_at), Tx.when(row.updated_at)
        row.completed_at, row.next_due_at = Tx.when(row.completed_at), Tx.when(row.next_due_at)
        row.written = row.changing()
        return row

    def changing(self) -> tuple:
        return tuple(getattr(self, c) for c in _CHANGING)


_CHANGING = ("status", "updated_at", "completed_at", "next_due_at", "task_seq", "meta", "error",
             "audit_seq", "audit_hash", "state_version", "serializer_version")
_COLUMNS = [f.name for f in fields(InstanceRow) if f.name not in ("stored", "written")]
_SELECT_INSTANCE = f"SELECT {', '.join(_COLUMNS)} FROM process_instance WHERE id = ?"
_INSERT_INSTANCE = (f"INSERT INTO process_instance ({', '.join(_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * len(_COLUMNS))})")
_STAMPED = {"created_at", "updated_at", "completed_at", "next_due_at"}
_LIVE = TaskState.WAITING | TaskState.READY | TaskState.STARTED


class InstanceStore:
    """Reads and writes the state of process instances."""

    def __init__(self, specs: SpecCache | None = None, cache: WorkflowCache | None = None,
                 versions: StateVersions = VERSIONS):
        self.specs = specs or SpecCache()
        self.cache = cache if cache is not None else WorkflowCache()
        self.versions = versions

    def row(self, tx: Tx, instance_id: str, lock: bool = False) -> InstanceRow:
        """The instance's row; `lock` holds it for this transaction (PostgreSQL: FOR UPDATE)."""
        sql = _SELECT_INSTANCE + (" FOR UPDATE" if lock and tx.postgres else "")
        found = tx.one(sql, (instance_id,))
        if found is None:
            raise NotFound("request.unknown", request=instance_id)
        return InstanceRow.from_db(found)

    def next_due_row(self, tx: Tx, now: datetime, skip: set[str]) -> InstanceRow | None:
        """Lock the running instance whose timer is due first, passing over those in `skip` and,
        on PostgreSQL, those another sweeper holds (FOR UPDATE SKIP LOCKED)."""
        sql = (f"SELECT {', '.join(_COLUMNS)} FROM process_instance WHERE status = 'running' "
               "AND next_due_at <= ?")
        if skip:
            sql += f" AND id NOT IN ({tx.in_list(list(skip))})"
        sql += " ORDER BY next_due_at LIMIT 1" + (" FOR UPDATE SKIP LOCKED" if tx.postgres else "")
        found = tx.one(sql, (tx.stamp(now), *skip))
        return InstanceRow.from_db(found) if found else None

    def write_row(self, tx: Tx, row: InstanceRow) -> None:
        """Insert a new row or update a stored one if nobody changed it since it was read."""
        if not row.stored:
            tx.run(_INSERT_INSTANCE, [tx.stamp(getattr(row, c)) if c in _STAMPED else getattr(row, c)
                                      for c in _COLUMNS])
            row.stored, row.written = True, row.changing()
            return
        # Only the columns that changed: an indexed column in the SET list costs an index write.
        now = row.changing()
        changed = [(c, v) for c, v, old in zip(_CHANGING, now, row.written, strict=True) if v != old]
        sql = ("UPDATE process_instance SET " + "".join(f"{c} = ?, " for c, _ in changed)
               + "lock_version = lock_version + 1 WHERE id = ? AND lock_version = ?")
        values = [tx.stamp(v) if c in _STAMPED else v for c, v in changed]
        if tx.run(sql, (*values, row.id, row.lock_version)) != 1:
            raise StaleInstance("instance.stale")
        row.lock_version += 1
        row.written = now

    def new_workflow(self, tx: Tx, version_id: int, instance_id: str, script_engine) -> XWorkflow:
        spec, subs = self.specs.get(tx, version_id)
        return XWorkflow(spec, subs, script_engine=script_engine, instance_id=uuid.UUID(instance_id))

    def load(self, tx: Tx, row: InstanceRow, script_engine) -> XWorkflow:
        """The instance's workflow, from the cache if nobody changed it since, else from its rows."""
        cached = self.cache.take(row.id, row.lock_version)
        if cached is not None:
            return cached
        spec, subs = self.specs.get(tx, row.process_version_id)
        rows = tx.all("SELECT workflow_id, seq, body FROM instance_task WHERE instance_id = ? ORDER BY seq",
                      (row.id,))
        state = StoredState(json.loads(row.meta), {wid: json.loads(m) for wid, m in tx.all(
            "SELECT workflow_id, meta FROM instance_subprocess WHERE instance_id = ?", (row.id,))},
            {seq: json.loads(body) for _, seq, body in rows})
        upgraded = self.versions.upgrade(state, row.state_version, row.serializer_version,
                                         Msg("what.instance_named", id=row.id))
        by_wf: dict[str, list] = {}
        for wf_id, seq, body in rows:
            # An upgraded body is compared with what the next save serializes as if stored so: the
            # whole rewrite of an upgraded instance is apart from the changes of the command.
            by_wf.setdefault(wf_id, []).append((seq, state.tasks[seq], dumps(state.tasks[seq]) if upgraded else body))
        wf = XWorkflow(spec, subs, script_engine=script_engine, deserializing=True)
        self._restore_tasks(wf, by_wf.get("", []))
        _restore_attributes(wf, state.meta)
        wf.bpmn_events = _REG.restore(state.meta["bpmn_events"])
        self._restore_subprocesses(wf, wf, state.subprocesses, by_wf)
        for each in wf.all_workflows():
            each.dirty.clear()
            each.removed.clear()
        wf.stored_subprocesses = set(state.subprocesses)
        wf.rewrite_state = upgraded
        return wf

    def _restore_tasks(self, wf, rows) -> None:
        for seq, dct, body in rows:
            task = _REG.restore(dct, workflow=wf)
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

    def save(self, tx: Tx, row: InstanceRow, wf: XWorkflow, max_bytes: int | None = None) -> int:
        """Queue what changed since the last save and set the row's meta; return the bytes written.

        Everything is serialized and measured first: with `max_bytes`, a save that would write more
        raises CommandTooLarge before it queues or changes anything. The caller writes the row itself
        (write_row) before the transaction's queue is flushed.
        """
        stored_subs = getattr(wf, "stored_subprocesses", set())
        current_subs = {workflow_key(s) for s in wf.subprocesses.values()}
        bodies: list[tuple[str, object, str]] = []  # (workflow id, task, body) of the tasks to write
        metas: list[tuple[str, str]] = []  # (workflow id, meta) of the subprocesses to write
        for each in wf.all_workflows():
            wf_id = workflow_key(each)
            # Predicted tasks (MAYBE/LIKELY/FUTURE) only change through a state change, which marks
            # them dirty; waiting, ready and started ones can change their data in place.
            candidates = each.dirty | {tid for tid, t in each.open_tasks.items() if t.state & _LIVE}
            changed = False
            for task in sorted((each.tasks[t] for t in candidates if t in each.tasks), key=lambda t: t.order):
                body = dumps(_REG.convert(task))
                if body != task.stored_body:
                    bodies.append((wf_id, task, body))
                    changed = True
            if wf_id and (changed or each.removed or wf_id not in stored_subs):
                metas.append((wf_id, dumps(workflow_meta(each))))
        meta = dumps(workflow_meta(wf))
        sizes = {task.id: _utf8(body) for _, task, body in bodies}
        written = sum(sizes.values()) + sum(_utf8(m) for _, m in metas) + _utf8(meta)
        # Task data is a part of what is written: only a save over the limit needs to measure it.
        if max_bytes is not None and written > max_bytes:
            data = {task.id: _data_bytes(body) for _, task, body in bodies}
            total = sum(data.values()) + sum(_data_bytes(m) for m in (meta, *(m for _, m in metas)))
            if total > max_bytes:
                raise _too_large(total, max_bytes, [task for _, task, _ in bodies], data)
        if getattr(wf, "rewrite_state", False):
            self._rewrite(tx, row, wf, bodies, metas, stored_subs & current_subs)
        for sub_id in stored_subs - current_subs:
            tx.queue("DELETE FROM instance_task WHERE instance_id = ? AND workflow_id = ?", (row.id, sub_id))
            tx.queue("DELETE FROM instance_subprocess WHERE instance_id = ? AND workflow_id = ?", (row.id, sub_id))
        seq = row.task_seq or 0
        for wf_id, task, body in bodies:
            if task.seq is None:
                seq += 1
                task.seq = seq
                tx.queue(TASK_INSERT, (row.id, str(task.id), task.state, body, wf_id, seq))
            else:
                tx.queue(TASK_UPDATE, (task.state, body, row.id, task.seq))
            task.stored_body = body
        for wf_id, sub_meta in metas:
            if wf_id in stored_subs:
                tx.queue("UPDATE instance_subprocess SET meta = ? WHERE instance_id = ? AND workflow_id = ?",
                         (sub_meta, row.id, wf_id))
            else:
                tx.queue("INSERT INTO instance_subprocess (meta, instance_id, workflow_id) VALUES (?, ?, ?)",
                         (sub_meta, row.id, wf_id))
        deletes = []
        for each in wf.all_workflows():
            deletes.extend(seq for seq in each.removed.values() if seq is not None)
            each.dirty.clear()
            each.removed.clear()
        if deletes:
            tx.queue(f"DELETE FROM instance_task WHERE instance_id = ? AND seq IN ({tx.in_list(deletes)})",
                     (row.id, *deletes))
        wf.stored_subprocesses = current_subs
        row.task_seq = seq
        row.meta = meta
        row.state_version, row.serializer_version = self.versions.current, SERIALIZER_VERSION
        return written

    def _rewrite(self, tx: Tx, row: InstanceRow, wf: XWorkflow, bodies: list, metas: list, subs: set) -> None:
        """Queue, in the current layout, every stored row the command does not write anyway."""
        # The version a row records must hold for all its rows (finished tasks are otherwise never
        # written again); this is the format's upgrade, not the command's: it is not size-limited.
        writing = {task.id for _, task, _ in bodies}
        for each in wf.all_workflows():
            for task in each.tasks.values():
                if task.seq is not None and task.id not in writing:
                    task.stored_body = dumps(_REG.convert(task))
                    tx.queue(TASK_UPDATE, (task.state, task.stored_body, row.id, task.seq))
        for sub_id in subs - {wf_id for wf_id, _ in metas}:
            tx.queue("UPDATE instance_subprocess SET meta = ? WHERE instance_id = ? AND workflow_id = ?",
                     (dumps(workflow_meta(wf.subprocesses[uuid.UUID(sub_id)])), row.id, sub_id))
        wf.rewrite_state = False

    def remember(self, instance_id: str, lock_version: int, wf: XWorkflow) -> None:
        """Keep a committed workflow for the next command on the same instance."""
        self.cache.put(instance_id, lock_version, wf)

    def forget(self, instance_id: str) -> None:
        self.cache.take(instance_id, -1)
