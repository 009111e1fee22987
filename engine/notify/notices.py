"""What a user reads about their own work: notifications, the rows of the inbox page, the counts in
the navigation, and a request described to someone who may see it.

Notifications are written by the commands (engine.workflow.instances and .operations); here they
are listed newest first, counted and marked read, always for their own recipient only. The inbox
rows (engine.tasks.inbox, the tasks copied to the user and those the user completed, from
engine.tasks.operations) gain their request's summary (request_summary) and two markers:
overdue (due before now) and red (the request's current plan has red warnings, computed by
engine.requests.records.red_warnings).
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import func, select, update

from engine.bpmn.forms import Form
from engine.context import Services
from engine.db.models import CoordinationPlan, InboxTask, Notification, RequestSummary
from engine.errors import InvalidInput, NotFound
from engine.messages import Msg
from engine.org.directory import directory
from engine.page import Page
from engine.requests.record_access import note_read
from engine.requests.records import red_warnings
from engine.requests.request_view import may_see_request
from engine.requests.requests import REQUEST_PROCESS
from engine.requests.summaries import summary_view
from engine.tasks.inbox import InboxFilter, group_tasks, mine_query, my_tasks, offered_query
from engine.tasks.operations import cc_list
from engine.tasks.reads import done_by
from engine.workflow.access import identities
from engine.workflow.instances import describe_instance, start_form

TABS = ("mine", "group", "cc", "done")
_PEOPLE = ("assignee", "from_user", "delegated_by", "on_behalf_of")  # rows name them by id; pages by name


def _paging(page: int, per_page: int) -> None:
    if page < 1 or not 1 <= per_page <= 500:
        raise InvalidInput("paging.invalid", most=500)


# ---------------------------------------------------------------------------------- notifications
def _notification_row(n: Notification) -> dict:
    return {"id": n.id, "kind": n.kind, "message": n.message, "code": n.code,
            "params": json.loads(n.params) if n.params else None, "instance_id": n.instance_id, "task_id": n.task_id,
            "created_at": n.created_at.isoformat(), "read_at": n.read_at.isoformat() if n.read_at else None}


def list_notifications(ctx: Services, user: str, page: int = 1, per_page: int = 20,
                       unread_only: bool = False) -> Page:
    """The notifications of `user`, newest first (unread ones only, if asked); `task_open` tells
    whether the task a notification names still waits (its page can be opened)."""
    _paging(page, per_page)
    q = select(Notification).where(Notification.recipient == user)
    if unread_only:
        q = q.where(Notification.read_at.is_(None))
    with ctx.db.read() as s:
        total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = s.scalars(q.order_by(Notification.created_at.desc(), Notification.id.desc())
                         .limit(per_page).offset((page - 1) * per_page)).all()
        tasks = {n.task_id for n in rows if n.task_id}
        still_open = set(s.scalars(select(InboxTask.task_id).where(InboxTask.task_id.in_(tasks)))) if tasks else set()
        return Page([{**_notification_row(n), "task_open": n.task_id in still_open} for n in rows],
                    total, page, per_page)


def _unread(user: str):
    return select(func.count()).select_from(Notification).where(
        Notification.recipient == user, Notification.read_at.is_(None))


def unread_count(ctx: Services, user: str) -> int:
    """How many notifications of `user` are unread."""
    with ctx.db.read() as s:
        return s.scalar(_unread(user)) or 0


def mark_read(ctx: Services, notification_id: int, user: str) -> None:
    """Mark one of `user`'s notifications read (again is harmless); NotFound for anyone else's."""
    with ctx.db.write() as s:
        found = s.get(Notification, notification_id)
        if found is None or found.recipient != user:
            raise NotFound("notification.unknown", id=notification_id)
        if found.read_at is None:
            found.read_at = ctx.now()


def mark_all_read(ctx: Services, user: str) -> int:
    """Mark every unread notification of `user` read; how many there were."""
    with ctx.db.write() as s:
        done = s.execute(update(Notification).where(Notification.recipient == user, Notification.read_at.is_(None))
                         .values(read_at=ctx.now()))
        return done.rowcount or 0


def nav_counts(ctx: Services, user: str) -> dict[str, int]:
    """Open tasks (own and offered to the user's groups) and unread notifications, for the navigation."""
    users = identities(ctx, user)

    def count(q):
        return select(func.count()).select_from(q.subquery()).scalar_subquery()

    with ctx.db.read() as s:
        mine, offered, unread = s.execute(select(count(mine_query(users)), count(offered_query(users)),
                                                 _unread(user).scalar_subquery())).one()
    return {"inbox": mine + offered, "notifications": unread}


# ---------------------------------------------------------------------------------- the inbox page
def inbox_listing(ctx: Services, user: str, tab: str = "mine", f: InboxFilter | None = None, sort: str = "due",
                  page: int = 1, per_page: int = 20) -> Page:
    """One tab of `user`'s inbox, each row with its request's summary and the overdue and red markers.

    mine and group take the filter and the sort; cc (copied to the user) and done (completed by
    the user) are newest first and take neither.
    """
    if tab == "mine":
        found = my_tasks(ctx, user, f, sort, page, per_page)
    elif tab == "group":
        found = group_tasks(ctx, user, f, sort, page, per_page)
    elif tab == "cc":
        found = cc_list(ctx, user, page, per_page)
    elif tab == "done":
        found = done_by(ctx, user, page, per_page)
    else:
        raise InvalidInput("choice.unknown", what=Msg("what.tab"), given=tab, known=list(TABS))
    _annotate(ctx, found.items)
    return found


def _annotate(ctx: Services, rows: list[dict]) -> None:
    ids = {r["instance_id"] for r in rows if r.get("instance_id")}
    summaries: dict[str, dict] = {}
    planned: set[str] = set()
    org = directory(ctx)
    if ids:
        with ctx.db.read() as s:
            for row in s.scalars(select(RequestSummary).where(RequestSummary.instance_id.in_(ids))):
                summaries[row.instance_id] = summary_view(row, org)
            # Only a request with a plan can have red warnings: the others need no look.
            planned = set(s.scalars(select(CoordinationPlan.instance_id).distinct()
                                    .where(CoordinationPlan.instance_id.in_(ids))))
    red = {i for i in planned if red_warnings(ctx, i)}
    now = ctx.now()
    for row in rows:
        due = row.get("due_at")
        row["request"] = summaries.get(row.get("instance_id"))
        row["overdue"] = bool(due) and datetime.fromisoformat(due) < now
        row["red_warning"] = row.get("instance_id") in red
        for key in _PEOPLE:
            if row.get(key):
                row[f"{key}_name"] = (org.users.get(row[key]) or {}).get("name") or row[key]


def filter_options(ctx: Services) -> dict[str, list[tuple[str, str]]]:
    """The choices of the inbox filters: request types and urgencies as the latest request form
    offers them, and the departments; each a list of (value, label)."""
    departments = sorted(directory(ctx).departments.items(), key=lambda d: (d[1]["sort_order"], d[0]))
    options = {"request_type": [], "urgency": [], "department": [(k, v["name"]) for k, v in departments]}
    try:
        form = start_form(ctx, REQUEST_PROCESS)
    except NotFound:  # not deployed (yet): no choices
        form = Form()
    for fld in form.fields:
        if fld.id in ("request_type", "urgency"):
            options[fld.id] = [tuple(o) for o in fld.options]
    return options


# ---------------------------------------------------------------------------------- a request, for a reader
def describe_request(ctx: Services, instance_id: str, user: str) -> dict:
    """The request as describe_instance shows it, with its summary and red warnings, for a user who
    may see it (request_view.may_see_request, the rule of the request pages); NotFound for anyone
    else, as if it did not exist."""
    if not may_see_request(ctx, instance_id, user):
        raise NotFound("request.unknown", request=instance_id)
    found = describe_instance(ctx, instance_id)
    with ctx.db.read() as s:
        summary = s.get(RequestSummary, instance_id)
        found["request"] = summary_view(summary, directory(ctx)) if summary else None
    found["red_warnings"] = red_warnings(ctx, instance_id)
    note_read(ctx, instance_id, user, "request")
    return found


def open_task_request(ctx: Services, task_id: str) -> str:
    """The request (instance id) an open task belongs to; NotFound if no open task has this id."""
    with ctx.db.transaction(write=False) as tx:  # asked on every request that names a task
        found = tx.one("SELECT instance_id FROM inbox_task WHERE task_id = ?", (task_id,))
    if found is None:
        raise NotFound("task.not_open", task=task_id)
    return found[0]
