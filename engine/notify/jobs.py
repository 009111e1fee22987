"""What the admin area's 后台任务 page shows and does: the timers waiting in running requests, the
deliveries waiting or failed, and a retry of failed deliveries (platform admins only)."""

from __future__ import annotations

from sqlalchemy import func, select, update

from engine.bpmn.timers import waiting_timers
from engine.context import Services
from engine.db.models import NotificationDelivery, ProcessInstance, RequestSummary
from engine.errors import InvalidInput, NotFound
from engine.messages import Msg
from engine.org.directory import require_admin
from engine.page import Page

STATUSES = ("pending", "sending", "failed")


def _paging(page: int, per_page: int) -> None:
    if page < 1 or not 1 <= per_page <= 200:
        raise InvalidInput("paging.invalid", most=200)


def scheduled_timers(ctx: Services, page: int = 1, per_page: int = 20) -> Page:
    """Running instances with a timer, soonest first: request number and title, and each waiting
    timer element's name and due time (read from the stored workflow)."""
    _paging(page, per_page)
    p = ProcessInstance
    q = select(p.id).where(p.status == "running", p.next_due_at.is_not(None))
    with ctx.db.read() as s:
        total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = s.execute(select(p.id, p.business_key, p.process_id, p.next_due_at, RequestSummary.title)
                         .outerjoin(RequestSummary, RequestSummary.instance_id == p.id)
                         .where(p.id.in_(q)).order_by(p.next_due_at, p.id)
                         .limit(per_page).offset((page - 1) * per_page)).all()
    items = []
    for instance_id, number, process_id, next_due, title in rows:
        timers = []
        with ctx.db.transaction(write=False) as tx:
            row = ctx.store.row(tx, instance_id)
            wf = ctx.store.load(tx, row, ctx.script_engine)
        for task, due in waiting_timers(wf):
            timers.append({"element_id": task.task_spec.bpmn_id, "name": task.task_spec.bpmn_name
                           or task.task_spec.bpmn_id, "due_at": due.isoformat()})
        items.append({"instance_id": instance_id, "request_no": number, "title": title, "process_id": process_id,
                      "next_due_at": next_due.isoformat(), "timers": timers})
    return Page(items, total, page, per_page)


def _delivery_row(d: NotificationDelivery) -> dict:
    return {"id": d.id, "notification_id": d.notification_id, "channel": d.channel, "target": d.target,
            "kind": d.kind, "message": d.message, "recipients": d.recipients.split(","), "status": d.status,
            "attempts": d.attempts, "next_attempt_at": d.next_attempt_at.isoformat(), "last_error": d.last_error,
            "created_at": d.created_at.isoformat()}


def list_deliveries(ctx: Services, status: str, page: int = 1, per_page: int = 20) -> Page:
    """Deliveries of one status (pending also lists those being sent), next attempt first."""
    if status not in ("pending", "failed"):
        raise InvalidInput("choice.unknown", what=Msg("what.delivery_status"), given=status,
                           known=["pending", "failed"])
    _paging(page, per_page)
    d = NotificationDelivery
    wanted = ("pending", "sending") if status == "pending" else ("failed",)
    q = select(d).where(d.status.in_(wanted))
    with ctx.db.read() as s:
        total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = s.scalars(q.order_by(d.next_attempt_at, d.id).limit(per_page).offset((page - 1) * per_page)).all()
        return Page([_delivery_row(r) for r in rows], total, page, per_page)


def delivery_counts(ctx: Services) -> dict[str, int]:
    """How many deliveries wait (pending or being sent) and how many failed."""
    d = NotificationDelivery
    with ctx.db.read() as s:
        found = dict(s.execute(select(d.status, func.count()).where(d.status.in_(STATUSES)).group_by(d.status)).all())
    return {"pending": found.get("pending", 0) + found.get("sending", 0), "failed": found.get("failed", 0)}


def retry_delivery(ctx: Services, delivery_id: int, by: str) -> None:
    """Send a failed delivery again from its first attempt (platform admins)."""
    d = NotificationDelivery
    with ctx.db.write() as s:
        require_admin(s, by)
        found = s.get(d, delivery_id)
        if found is None or found.status != "failed":
            raise NotFound("delivery.unknown", id=delivery_id)
        found.status, found.attempts, found.next_attempt_at = "pending", 0, ctx.now()


def retry_failed(ctx: Services, by: str) -> int:
    """Send every failed delivery again from its first attempt (platform admins); how many."""
    d = NotificationDelivery
    with ctx.db.write() as s:
        require_admin(s, by)
        done = s.execute(update(d).where(d.status == "failed").values(status="pending", attempts=0,
                                                                          next_attempt_at=ctx.now())
                         .execution_options(synchronize_session=False))
        return done.rowcount or 0
