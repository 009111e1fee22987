"""Move running instances of one process version to a newer one.

SpiffWorkflow 3.2 compares specs (`SpecDiff`: task specs aligned by BPMN id, then by structure) but
its `migrate_workflow` resets every ready and waiting task: a user task's pre-script runs again and
a timer starts over. Here an instance keeps its task tree, its task ids, data and timers: each task
is pointed at its aligned spec of the new version, and only the predicted (not yet reached) part
of the tree below the open tasks is rebuilt from the new diagram.

An instance can move when it is running, every open task (and open subprocess) has its element in
the new version with the same type and boundary events, and every element it already passed is
still there (its stored tasks name them). The preview runs the same migration on a copy read from
the database and reports, per instance, whether it can move and why not; a migration is one
transaction per instance with an `instance_migrated` event on the instance's audit chain and on the
process's chain (see audit), and a batch ends with an `instances_migrated` event on the process's
chain naming every request moved and refused (with the reasons).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from SpiffWorkflow.bpmn.specs.control import BoundaryEventJoin, BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.util.diff import SpecDiff
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.parser import UserTask
from engine.bpmn.runtime import SERIALIZER, XWorkflow
from engine.bpmn.versions import require_process_owner
from engine.context import Services
from engine.db import chain as audit
from engine.db.tx import Tx
from engine.errors import InvalidInput, NotFound
from engine.workflow.runner import CommandResult, InstanceChange, change_instance
from engine.workflow.store import InstanceRow, InstanceStore, WorkflowCache

LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED
PREDICTED = TaskState.FUTURE | TaskState.LIKELY | TaskState.MAYBE
_REG = SERIALIZER.registry
# What an inbox row was resolved from: when one of these changed, the open task is assigned anew.
_ASSIGNMENT = ("assignee", "candidate_users", "candidate_groups", "lane", "bpmn_name", "due_date", "priority")


class MigrationRefused(InvalidInput):
    """An instance cannot move to the version asked for; nothing was changed."""

    code = "migration_refused"

    def __init__(self, instance_id: str, reasons: list[dict]):
        self.instance_id = instance_id
        self.reasons = reasons
        super().__init__("migration.refused", request=instance_id, reasons=[r["message"] for r in reasons])

    def to_dict(self, locale: str | None = None, zone: str | None = None, diagram=None) -> dict:
        return {**super().to_dict(locale, zone, diagram), "instance_id": self.instance_id, "reasons": self.reasons}


@dataclass
class _Target:
    id: int
    process_id: str
    version: int
    spec: object
    subs: dict


@dataclass
class _Plan:
    """What moving one workflow (the top one or a subprocess) means: old spec -> new spec."""

    workflow: object
    new_spec: object
    alignment: dict = field(default_factory=dict)
    changed: set = field(default_factory=set)  # names of old specs whose attributes changed


def _reason(code: str, message: str, element_id: str | None = None, **extra) -> dict:
    return {"code": code, "element_id": element_id, "message": message, **extra}


def _element(spec) -> str:
    return getattr(spec, "bpmn_id", None) or spec.name


def _label(spec) -> str:
    name = getattr(spec, "bpmn_name", None)
    return f"{_element(spec)} ({name})" if name else _element(spec)


def _target(ctx: Services, tx: Tx, version_id: int) -> _Target:
    found = tx.one("SELECT id, process_id, version FROM process_version WHERE id = ?", (version_id,))
    if found is None:
        raise NotFound("version.unknown", version=version_id)
    spec, subs = ctx.store.specs.get(tx, version_id)
    return _Target(found[0], found[1], found[2], spec, subs)


def _plans(wf: XWorkflow, target: _Target) -> tuple[list[_Plan], list[dict]]:
    """Align the instance's workflows with the target's specs; the reasons it cannot move."""
    reasons: list[dict] = []
    plans = [_plan(wf, target.spec, reasons)]
    for sub in wf.subprocesses.values():
        new_sub = target.subs.get(sub.spec.name)
        if new_sub is None:
            if not sub.is_completed():
                reasons.append(_reason("subprocess_removed",
                                       f"the running subprocess {sub.spec.name} is not in version {target.version}",
                                       sub.spec.name))
                continue
            reasons.append(_reason("subprocess_removed",
                                   f"the request went through subprocess {sub.spec.name}, which version "
                                   f"{target.version} no longer has", sub.spec.name))
            continue
        plans.append(_plan(sub, new_sub, reasons))
    return plans, reasons


def _plan(workflow, new_spec, reasons: list[dict]) -> _Plan:
    diff = SpecDiff(_REG, workflow.spec, new_spec)
    plan = _Plan(workflow, new_spec)
    for old, new in diff.alignment.items():
        plan.alignment[old.name] = new if new is not None else new_spec.task_specs.get(old.name)
    plan.changed = {old.name for old in diff.changed}
    found: dict[tuple, dict] = {}
    for task in sorted(workflow.tasks.values(), key=lambda t: t.order):
        spec = task.task_spec
        new = plan.alignment.get(spec.name, new_spec.task_specs.get(spec.name))
        plan.alignment.setdefault(spec.name, new)
        if task.state & PREDICTED:
            continue  # rebuilt from the new diagram
        for reason in _task_reasons(task, new, plan):
            found.setdefault((reason["code"], reason["element_id"]), reason)
    reasons.extend(found.values())
    return plan


def _task_reasons(task, new, plan: _Plan) -> list[dict]:
    spec = task.task_spec
    attached = _attached_to(task)
    if attached is not None and (new is None or (task.state & LIVE and spec.name in plan.changed)):
        # The hidden split/join around a task with boundary events, or one of its events.
        return [_reason("boundary_changed", f"the boundary events of {attached} changed in the new version",
                        attached)]
    if new is None:
        if task.state & LIVE:
            return [_reason("task_removed", f"the open task {_label(spec)} is not in the new version", _element(spec))]
        return [_reason("passed_removed", f"the request already passed {_label(spec)}, which the new version "
                        "removed", _element(spec))]
    reasons = []
    if task.state & LIVE and type(new) is not type(spec):
        reasons.append(_reason("task_type_changed", f"the open task {_label(spec)} is a {type(new).__name__} "
                               "in the new version", _element(spec)))
    parent = task.parent
    if task.state & LIVE and parent is not None and isinstance(parent.task_spec, BoundaryEventSplit) \
            and parent.task_spec.name in plan.changed:
        reasons.append(_reason("boundary_changed", f"the boundary events of {_element(spec)} changed in the "
                               "new version", _element(spec)))
    return reasons


def _attached_to(task) -> str | None:
    """The element a boundary event (or the engine's split and join around it) belongs to, else None."""
    spec = task.task_spec
    if isinstance(spec, (BoundaryEventSplit, BoundaryEventJoin)):
        return spec.name.rsplit(".", 1)[0]
    if isinstance(spec, BoundaryEvent) and task.parent is not None \
            and isinstance(task.parent.task_spec, BoundaryEventSplit):
        return task.parent.task_spec.name.rsplit(".", 1)[0]
    return None


def _apply(plans: list[_Plan], wf: XWorkflow, target: _Target) -> list[dict]:
    """Point every task at its new spec and rebuild the predicted part; what could not be mapped."""
    for plan in plans:
        workflow = plan.workflow
        workflow.spec = plan.new_spec
        for task in workflow.tasks.values():
            new = plan.alignment.get(task.task_spec.name)
            if new is not None and new is not task.task_spec:
                task.task_spec = new
                workflow.dirty.add(task.id)  # the stored row names the spec
    wf.subprocess_specs = target.subs
    for plan in plans:
        _repredict(plan.workflow)
    problems = []
    for plan in plans:
        specs = plan.new_spec.task_specs
        for task in plan.workflow.tasks.values():
            if specs.get(task.task_spec.name) is not task.task_spec:
                problems.append(_reason("unmapped", f"the request's step {_label(task.task_spec)} "
                                        f"({TaskState.get_name(task.state)}) has no counterpart in the new version",
                                        _element(task.task_spec)))
    return problems


def _repredict(workflow) -> None:
    """Rebuild the predicted part of the tree (what has not been reached) from the new specs.

    An open task whose children are all predicted predicts them anew, like the library does when
    a task becomes ready (a boundary event's branch stays MAYBE, as when it was first predicted).
    A task with children under way (a multi-instance body) or a finished task keeps its reached
    children; its predicted ones that are still outputs are predicted again, the others dropped.
    """
    mask = TaskState.PREDICTED_MASK | TaskState.FUTURE
    parents = {t.parent.id: t.parent for t in workflow.tasks.values()
               if t.state & PREDICTED and t.parent is not None and not t.parent.state & PREDICTED}
    parents.update({t.id: t for t in workflow.tasks.values() if t.state & LIVE and not t.children})
    for parent in sorted(parents.values(), key=lambda t: t.order):
        if parent.id not in workflow.tasks:
            continue
        spec = parent.task_spec
        if parent.state & LIVE and all(c.state & PREDICTED for c in parent.children):
            for child in list(parent.children):
                workflow._remove_task(child.id)
            if isinstance(spec, BoundaryEvent):
                parent._sync_children(spec.outputs, TaskState.MAYBE)
            else:
                spec._predict_hook(parent)
        else:
            outputs = list(spec.outputs)
            for child in list(parent.children):
                if child.task_spec in outputs:
                    outputs.remove(child.task_spec)
                elif child.state & PREDICTED:
                    workflow._remove_task(child.id)
            if parent.state & LIVE:  # a finished task's missing outputs are branches it did not take
                for missing in outputs:
                    parent._add_child(missing, TaskState.FUTURE)
        for child in list(parent.children):
            if child.state & PREDICTED:
                for grandchild in list(child.children):
                    workflow._remove_task(grandchild.id)
                child.task_spec._predict(child, mask=mask)


def _assignment(spec) -> tuple:
    return tuple(getattr(spec, a, None) for a in _ASSIGNMENT)


def _instance_checks(row: InstanceRow, target: _Target) -> list[dict]:
    if row.process_id != target.process_id:
        return [_reason("other_process", f"the instance runs {row.process_id}, not {target.process_id}")]
    if row.status != "running":
        return [_reason("not_running", f"the instance is {row.status}", status=row.status)]
    if row.process_version >= target.version:
        return [_reason("not_older", f"the instance is on version {row.process_version} already",
                        version=row.process_version)]
    return []


def _open_elements(wf: XWorkflow) -> list[str]:
    return sorted({_element(t.task_spec) for t in wf.unfinished_tasks()
                   if t.state & LIVE and isinstance(t.task_spec, UserTask)})


def preview_migration(ctx: Services, from_version_id: int, to_version_id: int) -> dict:
    """Which running instances of one version can move to another, and why the others cannot."""
    fresh = InstanceStore(ctx.store.specs, WorkflowCache(0))  # a copy: the cached workflows stay untouched
    with ctx.db.transaction(write=False) as tx:
        source = _target(ctx, tx, from_version_id)
        target = _target(ctx, tx, to_version_id)
        ids = [i for (i,) in tx.all("SELECT id FROM process_instance WHERE process_version_id = ? "
                                    "AND status IN ('running', 'errored') ORDER BY created_at", (from_version_id,))]
        instances = []
        for instance_id in ids:
            row = fresh.row(tx, instance_id)
            entry = {"instance_id": row.id, "business_key": row.business_key, "status": row.status,
                     "initiator": row.initiator, "open_tasks": []}
            reasons = _instance_checks(row, target)
            if not reasons:
                wf = fresh.load(tx, row, ctx.script_engine)
                entry["open_tasks"] = _open_elements(wf)
                plans, reasons = _plans(wf, target)
                if not reasons:
                    reasons = _apply(plans, wf, target)
            entry["movable"] = not reasons
            entry["reasons"] = reasons
            instances.append(entry)
    return {"process_id": source.process_id, "from_version": source.version, "from_version_id": source.id,
            "to_version": target.version, "to_version_id": target.id, "instances": instances,
            "movable": sum(1 for i in instances if i["movable"])}


def migrate_instance(ctx: Services, instance_id: str, to_version_id: int, user: str) -> CommandResult:
    """Move one running instance to a newer version of its process, in one transaction: an
    `instance_migrated` event on the instance's chain and on its process's chain."""
    require_process_owner(ctx, user)

    def change(c: InstanceChange) -> None:
        tx, row, wf = c.tx, c.row, c.wf
        target = _target(ctx, tx, to_version_id)
        reasons = _instance_checks(row, target)
        if reasons:
            raise MigrationRefused(instance_id, reasons)
        plans, reasons = _plans(wf, target)
        if reasons:
            raise MigrationRefused(instance_id, reasons)
        ready_before = {tid: _assignment(t.task_spec) for tid, t in c.ready_user_tasks().items()}
        c.touch()
        problems = _apply(plans, wf, target)
        if problems:
            raise MigrationRefused(instance_id, problems)
        old = {"version": row.process_version, "version_id": row.process_version_id}
        row.process_version_id, row.process_version = target.id, target.version
        tx.queue("UPDATE process_instance SET process_version_id = ?, process_version = ? WHERE id = ?",
                 (target.id, target.version, row.id))
        tx.queue("UPDATE inbox_task SET process_version = ? WHERE instance_id = ?", (target.version, row.id))
        reassigned = []
        for tid, assignment in ready_before.items():
            task = wf.find_task(tid)
            if task is None or task.state != TaskState.READY or _assignment(task.task_spec) == assignment:
                continue
            c.reassign(task)  # who works on it, its name or due date changed
            reassigned.append(_element(task.task_spec))
        moved = {"process_id": row.process_id, "from_version": old["version"], "to_version": target.version,
                 "from_version_id": old["version_id"], "to_version_id": target.id,
                 "open_tasks": _open_elements(wf), "reassigned": reassigned}
        audit.record(tx, row, "instance_migrated", user, c.now, None, None, moved)
        head = audit.lock_process_chain(tx, row.process_id)
        audit.append_process(tx, head, "instance_migrated", user, c.now, {
            **moved, "instance_id": row.id, "business_key": row.business_key})

    return change_instance(ctx, instance_id, user, change)


def migrate_instances(ctx: Services, from_version_id: int, to_version_id: int, user: str,
                      instance_ids: list[str] | None = None) -> dict:
    """Move every movable instance (or those named) of one version to another, each in its own
    transaction; what moved and, for the rest, why not."""
    require_process_owner(ctx, user)
    preview = preview_migration(ctx, from_version_id, to_version_id)
    wanted = set(instance_ids) if instance_ids is not None else None
    moved, refused = [], []
    for entry in preview["instances"]:
        if wanted is not None and entry["instance_id"] not in wanted:
            continue
        if not entry["movable"]:
            refused.append({"instance_id": entry["instance_id"], "business_key": entry["business_key"],
                            "reasons": entry["reasons"]})
            continue
        try:
            migrate_instance(ctx, entry["instance_id"], to_version_id, user)
        except MigrationRefused as exc:  # it changed since the preview
            refused.append({"instance_id": entry["instance_id"], "business_key": entry["business_key"],
                            "reasons": exc.reasons})
            continue
        moved.append({"instance_id": entry["instance_id"], "business_key": entry["business_key"]})
    if wanted:
        unknown = wanted - {e["instance_id"] for e in preview["instances"]}
        refused.extend({"instance_id": i, "business_key": None, "reasons": [_reason(
            "not_on_version", f"the instance does not run on version {preview['from_version']}")]}
            for i in sorted(unknown))
    found = {**{k: preview[k] for k in ("process_id", "from_version", "to_version")}, "moved": moved,
             "refused": refused}
    with ctx.db.transaction() as tx:  # each move is on the chain already, with the move itself
        head = audit.lock_process_chain(tx, preview["process_id"])
        found["seq"] = audit.append_process(tx, head, "instances_migrated", user, ctx.now(), {
            **found, "from_version_id": from_version_id, "to_version_id": to_version_id,
            "refused": [{**r, "reasons": [{k: x.get(k) for k in ("code", "element_id", "message")}
                                          for x in r["reasons"]]} for r in refused]})
    return found
