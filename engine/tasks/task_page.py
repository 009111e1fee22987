"""The task page's read model: everything one page of a task shows, from one call, for the user
reading it; a stranger learns nothing, not even that the task exists."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from engine.bpmn.forms import Form
from engine.context import Services
from engine.db.models import Notification, RequestSummary
from engine.db.tx import Tx
from engine.errors import NotFound, PermissionDenied, TaskNotReady
from engine.org.directory import directory
from engine.requests.record_access import note_read, require_reader
from engine.requests.record_forms import plan_task_key
from engine.requests.records import list_records
from engine.requests.request_view import may_see_request
from engine.requests.story import Story, story
from engine.requests.summaries import summary_view
from engine.tasks.reads import task_history
from engine.workflow.access import InboxRow
from engine.workflow.instances import task_form


class TaskClosed(NotFound):
    """The task is not open any more, but the reader was told of it (a notice, an email): its
    request is where to go, `request_id`, when `may_see` it (a group task another took: not)."""

    def __init__(self, task_id: str, request_id: str, may_see: bool, done_by: str | None = None,
                 done_at: datetime | None = None):
        super().__init__("task.not_open", task=task_id)
        self.request_id, self.may_see = request_id, may_see
        self.done_by, self.done_at = done_by, done_at  # who completed it, when (None: cancelled or taken)


@dataclass
class TaskPage:
    """One task as its page shows it.

    `task`: the form, the task's data and the form's opening values (task_form), when the reader
    may work on it; None for one of the request's people who may only look at it (and urge).
    `row`: the inbox row, with who delegated it and who filed the request. `history`: the task's
    events, oldest first. `context`: the request's summary and the plan row the task works on.
    `files`: the request's attachments by id. `story`: the request as filed and the steps since
    (engine.requests.story), what the page shows above the form."""

    task: dict | None
    row: dict
    history: list[dict]
    context: dict
    files: dict[str, str]
    story: Story


def inbox_entry(ctx: Services, task_id: str) -> dict | None:
    """The open task's inbox row with who delegated it and who filed its request; None when not open."""
    with ctx.db.transaction(write=False) as tx:
        return _entry(tx, task_id)


def _entry(tx: Tx, task_id: str) -> dict | None:
    found = tx.one("SELECT t.task_id, t.instance_id, t.process_id, t.process_version, t.business_key, t.task_name, "
                   "t.element_id, t.lane, t.assignee, t.candidate_users, t.candidate_groups, t.created_at, t.due_at, "
                   "t.priority, t.delegated_by, p.initiator, t.timeout_at FROM inbox_task t "
                   "JOIN process_instance p ON p.id = t.instance_id WHERE t.task_id = ?", (task_id,))
    if found is None:
        return None
    (tid, instance_id, process_id, version, key, name, element, lane, assignee, users, groups, created, due,
     priority, delegated_by, initiator, timeout) = found
    due_at, timeout_at = Tx.when(due), Tx.when(timeout)
    return {"task_id": tid, "instance_id": instance_id, "process_id": process_id, "process_version": version,
            "business_key": key, "name": name, "element_id": element, "lane": lane, "assignee": assignee,
            "candidate_users": [u for u in users.split(",") if u],
            "candidate_groups": [g for g in groups.split(",") if g],
            "created_at": Tx.when(created).isoformat(), "due_at": due_at.isoformat() if due_at else None,
            "priority": priority, "delegated_by": delegated_by, "initiator": initiator,
            "timeout_at": timeout_at.isoformat() if timeout_at else None}


def task_page(ctx: Services, task_id: str, user: str, work: bool = False) -> TaskPage:
    """The page of task `task_id` for `user`: with its form when they may work on it, without for one
    of the request's people; with `work` (a form being sent) only for those who may work on it.
    NotFound for anyone else and for a task that is not open; TaskClosed for a task done (or taken
    over) since the reader was told of it. An auditor's read is logged."""
    row = inbox_entry(ctx, task_id)  # read once: the form's check takes it as it is
    try:
        if row is None:
            raise NotFound("task.not_open", task=task_id)
        info = task_form(ctx, task_id, user, InboxRow(
            task_id, row["instance_id"], row["element_id"], row["name"], row["assignee"],
            ",".join(row["candidate_users"]), ",".join(row["candidate_groups"]), row["delegated_by"]))
    except (TaskNotReady, NotFound):
        told = None if work else noticed_task_request(ctx, user, task_id)
        if told is not None:
            raise TaskClosed(task_id, told, may_see_request(ctx, told, user), *completed_by(ctx, task_id)) from None
        raise NotFound("task.not_open", task=task_id) from None
    except PermissionDenied:
        if work:
            raise NotFound("task.not_open", task=task_id) from None
        info = None
    if info is None:
        try:  # the engine's check: one of the request's people
            with ctx.db.transaction(write=False) as tx:
                require_reader(ctx, tx, row["instance_id"], user)
        except PermissionDenied:
            raise NotFound("task.not_open", task=task_id) from None
    told = story(ctx, row["instance_id"])
    if info is not None:  # the one who works this step sees the request as the step shows it
        told = told.without(Form.from_dict(info["form"]).hidden)
    context = task_context(ctx, row["instance_id"], info["data"] if info else {}, row["initiator"])
    rules = (info or {}).get("form", {}).get("rules", {})
    if rules.get("voteRule"):
        context["vote"] = vote_progress(ctx, row["instance_id"], row["element_id"], rules)
    page = TaskPage(info, row, task_history(ctx, task_id, row["instance_id"]), context, told.files, told)
    note_read(ctx, row["instance_id"], user, "task")
    return page


def vote_progress(ctx: Services, instance_id: str, element_id: str, rules: dict) -> dict:
    """Where the vote of a 会签 / 或签 step stands in its current round: its rule, how many approvers
    there are, how many decided and how many of those agreed (the round began when its tasks opened)."""
    field, _sep, agree = rules["voteAgree"].partition("=")
    with ctx.db.transaction(write=False) as tx:
        opened = [Tx.when(at) for (at,) in tx.all(
            "SELECT created_at FROM inbox_task WHERE instance_id = ? AND element_id = ?", (instance_id, element_id))]
        decided = [json.loads(data).get("data", {}).get(field) for (data,) in tx.all(
            "SELECT data FROM audit_event WHERE instance_id = ? AND element_id = ? AND event_type = 'task_completed' "
            "AND at >= ?", (instance_id, element_id, tx.stamp(min(opened))))] if opened else []
    return {"rule": rules["voteRule"], "ratio": rules.get("voteRatio"), "rejection": rules.get("voteRejection"),
            "total": len(opened) + len(decided), "decided": len(decided),
            "agreed": sum(1 for d in decided if d == agree)}


def task_context(ctx: Services, instance_id: str, task_data: dict | None, initiator: str | None = None) -> dict:
    """What a task page shows beside its form, for someone already allowed onto the task: the
    request's summary and, for a task on one row of the plan (`plan_task` in its data, as the
    plan's multi-instance execution provides it), that row with its owner and department named and
    `plan_records`: its progress updates, deliverables and acceptances, oldest first (read as the
    request's `initiator`, who may read them all)."""
    org = directory(ctx)
    with ctx.db.read() as s:
        summary = s.get(RequestSummary, instance_id)
        request = summary_view(summary, org) if summary else None
    plan_task = (task_data or {}).get("plan_task")
    if isinstance(plan_task, dict):
        plan_task = {**plan_task, "owner_name": (org.users.get(plan_task.get("owner") or "") or {}).get("name"),
                     "dept_name": (org.departments.get(plan_task.get("dept") or "") or {}).get("name")}
    else:
        plan_task = None
    plan_records, key = [], None
    if plan_task and initiator:
        with ctx.db.transaction(write=False) as tx:
            key = plan_task_key(tx, instance_id, plan_task)
        plan_records = [r for r in list_records(ctx, instance_id, initiator) if key and r.get("plan_task_key") ==
                        key and r["kind"] in ("progress_update", "deliverable", "acceptance")]
    return {"request": request, "plan_task": plan_task, "plan_task_key": key, "plan_records": plan_records}


def completed_by(ctx: Services, task_id: str) -> tuple[str | None, datetime | None]:
    """(who, when) a task was completed, from its audit event; (None, None) when it was not."""
    with ctx.db.transaction(write=False) as tx:
        found = tx.one("SELECT actor, at FROM audit_event WHERE task_id = ? AND event_type = 'task_completed' "
                       "ORDER BY seq DESC LIMIT 1", (task_id,))
    return (found[0], Tx.when(found[1])) if found else (None, None)


def noticed_task_request(ctx: Services, user: str, task_id: str) -> str | None:
    """The request (instance id) of a task `user` was told about (a notice, an email of one), open
    or not any more; None when no notice of theirs names the task."""
    with ctx.db.read() as s:
        return s.scalar(select(Notification.instance_id).where(
            Notification.recipient == user, Notification.task_id == task_id,
            Notification.instance_id.is_not(None)).limit(1))
