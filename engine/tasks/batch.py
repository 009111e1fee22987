"""批量审批: where a step allows it (its form's `batch`, from the task's batchDecision and
batchComment), someone completes several of their tasks of such steps at once with one comment.
Each task is its own command (complete_task: its own lock, transaction, audit event and notices), so
replay and the tamper check see ordinary completions; a refusal is reported for its task and holds
nothing else back."""

from __future__ import annotations

from engine.bpmn.forms import Form
from engine.context import Services
from engine.errors import InvalidInput, XiezuoError
from engine.messages import Msg
from engine.tasks.operations import TEXT_LIMIT
from engine.workflow.instances import complete_task, task_form

BATCH_LIMIT = 100  # tasks in one batch


def mark_batchable(ctx: Services, rows: list[dict]) -> None:
    """Set `batch` on each inbox row: the decision its step takes in a batch ({field, value, comment}),
    or None where the step allows no batch. The specs come from the store's cache."""
    versions = {(r["process_id"], r["process_version"]) for r in rows if r.get("process_id")}
    if not versions:
        return
    processes = sorted({pid for pid, _v in versions})
    with ctx.db.transaction(write=False) as tx:  # one connection: the version ids, then the cached specs
        ids = {(pid, v): vid for vid, pid, v in tx.all(
            f"SELECT id, process_id, version FROM process_version WHERE process_id IN ({tx.in_list(processes)})",
            processes) if (pid, v) in versions}
        batches: dict[tuple, dict[str, dict]] = {}
        for key, vid in ids.items():
            spec, subs = ctx.store.specs.get(tx, vid)
            batches[key] = {ts.bpmn_id: ts.form.batch for each in (spec, *subs.values())
                            for ts in each.task_specs.values() if getattr(getattr(ts, "form", None), "batch", None)}
    for row in rows:
        row["batch"] = batches.get((row.get("process_id"), row.get("process_version")), {}).get(row.get("element_id"))


def approve_batch(ctx: Services, user: str, task_ids: list[str], comment: str = "") -> list[dict]:
    """Complete each of `task_ids` (in order) as its step's batch decision with `comment`; one result
    per task: {task_id, ok, task (its step's name, when the task could be read), request (its number,
    while it was open), error (the XiezuoError that refused it)}."""
    ids = list(dict.fromkeys(str(t) for t in task_ids or [] if t))
    if not ids:
        raise InvalidInput("batch.nothing")
    if len(ids) > BATCH_LIMIT:
        raise InvalidInput("batch.too_many", most=BATCH_LIMIT)
    if not isinstance(comment, str):
        raise InvalidInput("text.not_text", what=Msg("what.comment"))
    if len(comment.strip()) > TEXT_LIMIT:  # checked once, before any task: the whole batch is refused
        raise InvalidInput("text.too_long", what=Msg("what.comment"), n=len(comment.strip()), most=TEXT_LIMIT)
    told = _told(ctx, ids)
    results = []
    for task_id in ids:
        name, number = told.get(task_id, (None, None))
        result: dict = {"task_id": task_id, "ok": False, "task": name, "request": number}
        try:
            shown = task_form(ctx, task_id, user)
            form = shown["form"]
            if not form.get("batch"):
                raise InvalidInput("batch.not_allowed", task=shown["name"])
            complete_task(ctx, task_id, user, Form.from_dict(form).batch_values(comment.strip()))
            result["ok"] = True
        except XiezuoError as exc:  # this task only: the others go on
            result["error"] = exc
        results.append(result)
    return results


def _told(ctx: Services, ids: list[str]) -> dict[str, tuple[str, str | None]]:
    """Each task's step name and request number, as the reader was shown them: from its inbox row, or
    for a task gone since (done by someone else, cancelled) from the record of its request."""
    found: dict[str, tuple[str, str | None]] = {}
    with ctx.db.transaction(write=False) as tx:
        for task_id, name, number in tx.all(
                f"SELECT task_id, task_name, business_key FROM inbox_task WHERE task_id IN ({tx.in_list(ids)})", ids):
            found[task_id] = (name, number)
        gone = [t for t in ids if t not in found]
        if gone:
            for task_id, element, number, version_id in tx.all(
                    "SELECT e.task_id, e.element_id, p.business_key, p.process_version_id FROM audit_event e "
                    "JOIN process_instance p ON p.id = e.instance_id WHERE e.event_type = 'task_ready' "
                    f"AND e.task_id IN ({tx.in_list(gone)})", gone):
                spec, subs = ctx.store.specs.get(tx, version_id)
                names = {ts.bpmn_id: ts.bpmn_name for each in (spec, *subs.values())
                         for ts in each.task_specs.values() if getattr(ts, "bpmn_name", None)}
                found.setdefault(task_id, (names.get(element, element), number))
    return found
