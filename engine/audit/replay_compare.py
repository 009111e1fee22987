"""Comparing a replayed workflow with the stored state: task by task, the instance's and its
subprocesses' attributes and data, and the status. Times written by the engine (due dates, the
moment a task changed) may differ from the stored ones by a moment: up to TIME_SLACK counts as equal."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from SpiffWorkflow.util.task import TaskState

from engine.audit.replay_model import Replay
from engine.bpmn.runtime import SERIALIZER, element_of
from engine.workflow.store import dumps, workflow_key, workflow_meta

_REG = SERIALIZER.registry
TIME_SLACK = timedelta(seconds=5)


def _when(value: Any) -> datetime | None:
    if isinstance(value, str) and 19 <= len(value) <= 35 and value[4:5] == "-" and value[10:11] in ("T", " "):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def same(a: Any, b: Any) -> bool:
    """Equal, or both the same moment to within TIME_SLACK (the engine reads its clock more than once)."""
    if a == b:
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    ta, tb = _when(a), _when(b)
    if ta is not None and tb is not None and (ta.tzinfo is None) == (tb.tzinfo is None):
        return abs(ta - tb) <= TIME_SLACK
    return False


# ---------------------------------------------------------------------------------- comparing
def _body(task) -> dict:
    dct = json.loads(dumps(_REG.convert(task)))
    dct.pop("last_state_change", None)
    return dct


def _unchanged(task, body: dict) -> bool:
    """The stored task equals the replayed one, checked on the objects (most tasks): serializing
    every task of both trees would cost more than the replay itself. Anything else is compared
    field by field on the serialized form."""
    return (body.get("state") == task.state and body.get("task_spec") == task.task_spec.name
            and body.get("data") == task.data and body.get("internal_data") == task.internal_data
            and body.get("children") == [str(c) for c in task._children]
            and body.get("parent") == (str(task._parent) if task._parent is not None else None)
            and body.get("triggered") == task.triggered)


def _state_name(state: int | None) -> str:
    return TaskState.get_name(state) if state is not None else "-"


def compare(r: Replay, stored: dict) -> None:
    """Differences between the replayed workflow and the stored state (task rows, metas, status)."""
    if r.wf is None:
        return
    if stored["status"] != r.status:
        r.differ("status", f"stored {stored['status']}, replayed {r.status}")
    elif r.status == "errored" and (stored["error"] or {}).get("element_id") != (r.error or {}).get("element_id"):
        r.differ("error", f"stored at {(stored['error'] or {}).get('element_id')}, replayed at "
                          f"{(r.error or {}).get('element_id')}")
    workflows = {workflow_key(each): each for each in r.wf.all_workflows()}
    for wf_id in sorted(set(workflows) | set(stored["metas"])):
        name = "the instance" if not wf_id else f"subprocess {wf_id}"
        if wf_id not in workflows:
            r.differ(name, "stored, but the replay has no such subprocess")
            continue
        if wf_id not in stored["metas"]:
            r.differ(name, "replayed, but not stored")
            continue
        mine = json.loads(dumps(workflow_meta(workflows[wf_id])))
        theirs = stored["metas"][wf_id]
        for key in sorted(set(mine) | set(theirs)):
            if key == "data":
                _compare_data(r, name + " data", theirs.get("data", {}), mine.get("data", {}))
            elif not same(theirs.get(key), mine.get(key)):
                r.differ(f"{name} {key}", f"stored {theirs.get(key)!r}, replayed {mine.get(key)!r}")
    mine_tasks = {str(t.id): t for each in r.wf.all_workflows() for t in each.tasks.values()}
    for tid in sorted(set(mine_tasks) | set(stored["tasks"]), key=lambda t: (t not in mine_tasks, t)):
        task = mine_tasks.get(tid)
        body = stored["tasks"].get(tid)
        element = element_of(task) if task is not None else (body or {}).get("task_spec")
        where = f"task {tid} ({element})"
        if body is None:
            r.differ(where, f"replayed ({_state_name(task.state)}), but not stored")
            continue
        if task is None:
            r.differ(where, f"stored ({_state_name(body.get('state'))}), but not replayed")
            continue
        if _unchanged(task, body):
            continue
        mine = _body(task)
        body = {k: v for k, v in body.items() if k != "last_state_change"}
        if mine.get("state") != body.get("state"):
            r.differ(where, f"stored {_state_name(body.get('state'))}, replayed {_state_name(mine.get('state'))}")
        for key in sorted((set(mine) | set(body)) - {"state", "data"}):
            if not same(body.get(key), mine.get(key)):
                r.differ(f"{where} {key}", f"stored {body.get(key)!r}, replayed {mine.get(key)!r}")
        _compare_data(r, f"{where} data", body.get("data", {}), mine.get("data", {}))


def _compare_data(r: Replay, where: str, stored: dict, mine: dict) -> None:
    for key in sorted(set(stored) | set(mine)):
        if key not in mine:
            r.differ(f"{where}.{key}", f"stored {stored[key]!r}, not in the replay")
        elif key not in stored:
            r.differ(f"{where}.{key}", f"replayed {mine[key]!r}, not stored")
        elif not same(stored[key], mine[key]):
            r.differ(f"{where}.{key}", f"stored {stored[key]!r}, replayed {mine[key]!r}")
