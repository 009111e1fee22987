"""Inbox queries: served from the inbox table and its indexes, never from instance state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select

from engine.context import Services
from engine.db.models import GroupMembership, InboxCandidate, InboxTask, RequestSummary
from engine.db.models.requests import summary_conditions
from engine.errors import InvalidInput
from engine.messages import Msg
from engine.page import Page
from engine.workflow.access import identities, task_row

SORTS = {
    "due": (InboxTask.due_at.is_(None), InboxTask.due_at, InboxTask.created_at),
    "-due": (InboxTask.due_at.is_(None), InboxTask.due_at.desc(), InboxTask.created_at),
    "priority": (InboxTask.priority.desc(), InboxTask.created_at),
    "-priority": (InboxTask.priority, InboxTask.created_at),
    "created": (InboxTask.created_at,),
    "-created": (InboxTask.created_at.desc(),),
}


@dataclass
class InboxFilter:
    process_id: str | None = None
    business_key: str | None = None
    element_id: str | None = None
    text: str | None = None
    overdue_at: datetime | None = None  # only tasks due before this moment
    # Of the task's request (request_summary): its type, its urgency, a department it involves
    # (as requester's, lead or involved department).
    request_type: str | None = None
    urgency: str | None = None
    department: str | None = None


def _filtered(q, f: InboxFilter | None):
    if f is None:
        return q
    if f.process_id:
        q = q.where(InboxTask.process_id == f.process_id)
    if f.business_key:
        q = q.where(InboxTask.business_key == f.business_key)
    if f.element_id:
        q = q.where(InboxTask.element_id == f.element_id)
    if f.text:
        like = f"%{f.text}%"
        q = q.where(or_(InboxTask.task_name.like(like), InboxTask.business_key.like(like),
                        InboxTask.subject.like(like)))
    if f.overdue_at:
        q = q.where(InboxTask.due_at < f.overdue_at)
    wanted = summary_conditions(f.request_type, f.urgency, f.department)
    if wanted:
        q = q.where(InboxTask.instance_id.in_(select(RequestSummary.instance_id).where(*wanted)))
    return q


def listing(q, f: InboxFilter | None, sort: str):
    """The inbox query `q` with a filter and a sort applied (no paging)."""
    if sort not in SORTS:
        raise InvalidInput("choice.unknown", what=Msg("what.sort"), given=sort, known=list(SORTS))
    return _filtered(q, f).order_by(*SORTS[sort])


def _page(ctx: Services, q, f, sort: str, page: int, per_page: int) -> Page:
    if page < 1 or not 1 <= per_page <= 500:
        raise InvalidInput("paging.invalid", most=500)
    q = listing(q, f, sort)
    with ctx.db.read() as s:
        total = s.scalar(select(func.count()).select_from(q.subquery()))
        rows = s.scalars(q.limit(per_page).offset((page - 1) * per_page)).all()
        return Page([task_row(r) for r in rows], total or 0, page, per_page)


def mine_query(users: list[str]):
    """Tasks assigned to any of `users`: found through ix_inbox_assignee_due."""
    return select(InboxTask).where(InboxTask.assignee.in_(users))


def offered_query(users: list[str]):
    """Unclaimed tasks offered to any of `users` or their groups: found through ix_inbox_candidate_name."""
    groups = select(GroupMembership.group_name).where(GroupMembership.user_id.in_(users))
    offered = select(InboxCandidate.task_id).where(or_(
        (InboxCandidate.kind == "user") & InboxCandidate.name.in_(users),
        (InboxCandidate.kind == "group") & InboxCandidate.name.in_(groups)))
    # coalesce(): "unclaimed" must not be looked up through the assignee index (every unclaimed
    # task in the system); the offered task ids, found by candidate, lead through the primary key.
    return select(InboxTask).where(InboxTask.task_id.in_(offered), func.coalesce(InboxTask.assignee, "") == "")


def my_tasks(ctx: Services, user: str, f: InboxFilter | None = None, sort: str = "due",
             page: int = 1, per_page: int = 50) -> Page:
    """Tasks assigned to `user` (directly or by claiming), or to someone `user` substitutes today."""
    return _page(ctx, mine_query(identities(ctx, user)), f, sort, page, per_page)


def group_tasks(ctx: Services, user: str, f: InboxFilter | None = None, sort: str = "due",
                page: int = 1, per_page: int = 50) -> Page:
    """Unclaimed tasks offered to `user` or their groups (or to someone `user` substitutes today)."""
    return _page(ctx, offered_query(identities(ctx, user)), f, sort, page, per_page)


def instance_tasks(ctx: Services, instance_id: str) -> list[dict]:
    with ctx.db.read() as s:
        rows = s.scalars(select(InboxTask).where(InboxTask.instance_id == instance_id)
                         .order_by(InboxTask.created_at)).all()
        return [task_row(r) for r in rows]
