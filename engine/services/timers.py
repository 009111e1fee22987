"""The timer sweep: load only instances whose next timer is due, fire them, save them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from engine.bootstrap import Services
from engine.db.models import ProcessInstance
from engine.errors import InstanceErrored, StaleInstance
from engine.services import instances


def due_instance_ids(ctx: Services, now: datetime, limit: int = 100) -> list[str]:
    """Ids of running instances with a timer due at `now`, served by the next_due_at index."""
    with ctx.db.read() as s:
        return list(s.scalars(select(ProcessInstance.id).where(
            ProcessInstance.status == "running", ProcessInstance.next_due_at <= now)
            .order_by(ProcessInstance.next_due_at).limit(limit)))


def _claim_batch(ctx: Services, s, now: datetime, limit: int) -> list[ProcessInstance]:
    q = (select(ProcessInstance)
         .where(ProcessInstance.status == "running", ProcessInstance.next_due_at <= now)
         .order_by(ProcessInstance.next_due_at).limit(limit))
    if ctx.db.is_postgres:
        # Several sweepers at once: each instance is fired by exactly one of them.
        q = q.with_for_update(skip_locked=True)
    return list(s.scalars(q))


def run_due_timers(ctx: Services, now: datetime | None = None, batch: int = 50) -> list[str]:
    """Fire every timer due at `now` (default: the clock); return the ids of instances advanced."""
    now = now or ctx.now()
    fired: list[str] = []
    while True:
        done_in_batch = 0
        with ctx.db.write() as s:
            rows = _claim_batch(ctx, s, now, batch)
            ids = [r.id for r in rows]
        if not ids:
            return fired
        for instance_id in ids:
            try:
                result = instances.fire_timers(ctx, instance_id, now)
            except StaleInstance:
                continue  # another sweeper or a user got there first; it is no longer due for us
            except InstanceErrored:
                fired.append(instance_id)
                done_in_batch += 1
                continue
            if result is not None:
                fired.append(instance_id)
                done_in_batch += 1
        if done_in_batch == 0:
            return fired
