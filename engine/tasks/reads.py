"""Reads of tasks for the people who did them and for a request's readers: the "done by me" list and one
task's history. They check no permission: the caller shows them to the user they concern or to a
reader of the request (engine.requests.record_access)."""

from __future__ import annotations

import json

from engine.context import Services
from engine.db.tx import Tx
from engine.errors import NotFound
from engine.page import Page
from engine.tasks.operations import check_page


# ---------------------------------------------------------------------------------- reads
def _task_names(ctx: Services, tx: Tx, version_id: int, names: dict) -> dict[str, str]:
    """Element id -> name of the elements of a process version (its called processes included)."""
    if version_id not in names:
        spec, subs = ctx.store.specs.get(tx, version_id)
        found: dict[str, str] = {}
        for each in (spec, *subs.values()):
            for ts in each.task_specs.values():
                bpmn_id = getattr(ts, "bpmn_id", None)
                if bpmn_id:
                    found.setdefault(bpmn_id, getattr(ts, "bpmn_name", None) or bpmn_id)
        names[version_id] = found
    return names[version_id]


_DONE_FROM = ("FROM audit_event e JOIN process_instance p ON p.id = e.instance_id "
              "LEFT JOIN request_summary s ON s.instance_id = p.id "
              "WHERE e.event_type = 'task_completed' AND e.actor = ?")


def done_by(ctx: Services, user: str, page: int = 1, per_page: int = 50) -> Page:
    """The tasks `user` completed, newest first, for the "done by me" list."""
    check_page(page, per_page)
    with ctx.db.transaction(write=False) as tx:
        (total,) = tx.one(f"SELECT count(*) {_DONE_FROM}", (user,))
        rows = tx.all("SELECT e.instance_id, e.task_id, e.element_id, e.at, e.data, p.business_key, p.process_id, "
                      f"p.process_version_id, p.status, s.title {_DONE_FROM} ORDER BY e.id DESC "
                      "LIMIT ? OFFSET ?", (user, per_page, (page - 1) * per_page))
        names: dict = {}
        items = []
        for instance_id, task_id, element_id, at, data, key, process_id, version_id, status, title in rows:
            items.append({
                "instance_id": instance_id, "business_key": key, "title": title, "process_id": process_id,
                "instance_status": status, "task_id": task_id, "element_id": element_id,
                "name": _task_names(ctx, tx, version_id, names).get(element_id, element_id),
                "completed_at": Tx.when(at).isoformat(), "on_behalf_of": json.loads(data).get("on_behalf_of")})
    return Page(items, total, page, per_page)


def task_history(ctx: Services, task_id: str, instance_id: str | None = None) -> list[dict]:
    """Every event of one task (ready, claimed, transferred, urged, completed, ...), oldest first.

    Give `instance_id` when known: the events are then read through the instance's index."""
    with ctx.db.transaction(write=False) as tx:
        if instance_id is None:
            found = (tx.one("SELECT instance_id FROM inbox_task WHERE task_id = ?", (task_id,))
                     or tx.one("SELECT instance_id FROM audit_event WHERE task_id = ? LIMIT 1", (task_id,)))
            if found is None:
                raise NotFound("task.unknown", task=task_id)
            instance_id = found[0]
        rows = tx.all("SELECT seq, event_type, actor, at, element_id, data FROM audit_event "
                      "WHERE instance_id = ? AND task_id = ? ORDER BY seq", (instance_id, task_id))
    if not rows:
        raise NotFound("task.not_in_request", task=task_id, request=instance_id)
    return [{"seq": seq, "type": kind, "actor": actor, "at": Tx.when(at).isoformat(), "element_id": element_id,
             "task_id": task_id, "data": json.loads(data)} for seq, kind, actor, at, element_id, data in rows]
