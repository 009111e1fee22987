"""The timer sweep: claim due instances one at a time, fire them, save them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from engine.context import Services
from engine.db.models import ProcessInstance
from engine.errors import StaleInstance
from engine.workflow import instances


def due_instance_ids(ctx: Services, now: datetime, limit: int = 100) -> list[str]:
    """Ids of running instances with a timer due at `now`, served by the next_due_at index."""
    with ctx.db.read() as s:
        return list(s.scalars(select(ProcessInstance.id).where(
            ProcessInstance.status == "running", ProcessInstance.next_due_at <= now)
            .order_by(ProcessInstance.next_due_at).limit(limit)))


def run_due_timers(ctx: Services, now: datetime | None = None, limit: int | None = None) -> list[str]:
    """Fire every timer due at `now` (default: the clock); return the ids of instances advanced.

    Each instance is claimed and fired in its own transaction, so several sweepers (threads or
    processes) can run at once: on PostgreSQL they skip each other's locked rows, on SQLite they
    take turns on the write lock; either way each due timer fires exactly once.
    """
    now = now or ctx.now()
    if not due_instance_ids(ctx, now, limit=1):
        return []  # a look that takes no lock: idle sweeps every second must not queue for the write lock
    fired: list[str] = []
    skip: set[str] = set()  # fired here and still due: never loop on them within one sweep
    while limit is None or len(fired) < limit:
        try:
            result = instances.fire_next_due(ctx, now, skip)
        except StaleInstance:
            continue  # a user's command got there between our read and our write; look again
        if result is None:
            return fired
        fired.append(result.instance_id)
        if _still_due(ctx, result.instance_id, now):  # e.g. a cycle catching up: its next turn waits for the next sweep
            skip.add(result.instance_id)
    return fired


def _still_due(ctx: Services, instance_id: str, now: datetime) -> bool:
    with ctx.db.read() as s:
        return s.scalar(select(ProcessInstance.id).where(
            ProcessInstance.id == instance_id, ProcessInstance.status == "running",
            ProcessInstance.next_due_at <= now)) is not None
