"""Who may act on an open task: its inbox row, its assignee or candidates, their substitutes today;
auditors never. Every command on a task checks here before it touches the instance."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from engine.bpmn.parser import UserTask
from engine.bpmn.runtime import XWorkflow
from engine.context import Services
from engine.db.models import InboxTask
from engine.db.tx import Tx
from engine.errors import PermissionDenied, TaskNotReady
from engine.org.directory import AUDITORS, directory, local_date
from engine.workflow.step import READY


@dataclass
class InboxRow:
    """The inbox columns a command checks before it touches the instance."""

    task_id: str
    instance_id: str
    element_id: str
    task_name: str
    assignee: str | None
    candidate_users: str
    candidate_groups: str
    delegated_by: str | None = None  # 委派: set while the assignee works on it for this user


def groups_of(tx: Tx, user: str) -> set[str]:
    return {g for (g,) in tx.all("SELECT group_name FROM group_membership WHERE user_id = ?", (user,))}


def members(tx: Tx, group: str) -> set[str]:
    return {u for (u,) in tx.all("SELECT user_id FROM group_membership WHERE group_name = ?", (group,))}


def identities(ctx: Services, user: str) -> list[str]:
    """`user`, and the users whose tasks they receive today as their substitute."""
    return [user, *directory(ctx).substituted_by(user, local_date(ctx))]


def refuse_auditor(tx: Tx, user: str) -> None:
    """Auditors read everything and change nothing: no task, request or record is theirs to act on."""
    if AUDITORS in groups_of(tx, user):
        raise PermissionDenied("auditor.read_only", user=user)


def inbox_row(tx: Tx, task_id: str) -> InboxRow:
    """The open task's inbox row; TaskNotReady when it is not open."""
    found = tx.one("SELECT task_id, instance_id, element_id, task_name, assignee, candidate_users, "
                   "candidate_groups, delegated_by FROM inbox_task WHERE task_id = ?", (task_id,))
    if found is None:
        raise TaskNotReady("task.not_open", task=task_id)
    return InboxRow(*found)


def acting_for(ctx: Services, tx: Tx, inbox: InboxRow, user: str) -> str | None:
    """Whom `user` acts for on the inbox task: themselves (its assignee, or a candidate while it is
    unclaimed), or a user they substitute today; None if they may not work on it."""
    if AUDITORS in groups_of(tx, user):
        return None
    if inbox.assignee == user or (not inbox.assignee and _offered(tx, inbox, user)):
        return user
    for other in identities(ctx, user)[1:]:  # only now: substitutions need the organisation
        if inbox.assignee == other or (not inbox.assignee and _offered(tx, inbox, other)):
            return other
    return None


def _offered(tx: Tx, inbox: InboxRow, user: str) -> bool:
    if user in filter(None, inbox.candidate_users.split(",")):
        return True
    groups = set(filter(None, inbox.candidate_groups.split(",")))
    return bool(groups and groups & groups_of(tx, user))


def refuse_delegated(inbox: InboxRow) -> None:
    """A delegated task (委派) is only handed back by its delegate; nothing else happens to it meanwhile."""
    if inbox.delegated_by:
        raise TaskNotReady("task.delegated", task=inbox.task_id, delegator=inbox.delegated_by, user=inbox.assignee)


def ready_task(wf: XWorkflow, task_id: str):
    """The workflow's user task `task_id`, which must be waiting for input."""
    task = wf.find_task(uuid.UUID(task_id))
    if task is None or task.state != READY or not isinstance(task.task_spec, UserTask):
        raise TaskNotReady("task.not_waiting", task=task_id)
    return task


def task_row(t: InboxTask) -> dict:
    """An inbox row as services return it."""
    return {
        "task_id": t.task_id, "instance_id": t.instance_id, "process_id": t.process_id,
        "process_version": t.process_version, "business_key": t.business_key, "name": t.task_name,
        "element_id": t.element_id, "lane": t.lane, "assignee": t.assignee,
        "candidate_users": [u for u in t.candidate_users.split(",") if u],
        "candidate_groups": [g for g in t.candidate_groups.split(",") if g],
        "created_at": t.created_at.isoformat(), "due_at": t.due_at.isoformat() if t.due_at else None,
        "priority": t.priority, "delegated_by": t.delegated_by, "subject": t.subject,
    }
