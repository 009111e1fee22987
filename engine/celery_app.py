"""Background work on Celery workers, for scale-out (config.broker_url, e.g. Redis).

The broker carries one periodic task, `xiezuo.sweep`, which runs engine.background.tick: the timer
sweep, the notification sender and the periodic jobs, each claiming its work in the database. The
broker only says "look now"; the database says what to do, so a sweep that two workers run at once
does every piece of work once, and a worker killed mid-way leaves its work to the next sweep.

Every `xiezuo worker` on a broker also runs Celery's beat (the scheduler that sends the sweep) on a
thread of its own unless told not to, so there is no single scheduler whose loss stops the timers:
extra sweeps cost one indexed query each, and a sweep message older than a few intervals expires
unread instead of piling up behind a busy worker.
"""

from __future__ import annotations

import os
import tempfile

from celery import Celery
from celery.beat import EmbeddedService

from engine.background import tick
from engine.context import Services

SWEEP = "xiezuo.sweep"


def create_celery(ctx: Services) -> Celery:
    """A Celery app on `ctx`'s broker whose beat sends `xiezuo.sweep` every sweep interval."""
    if not ctx.config.broker_url:
        raise ValueError("no broker configured (set XIEZUO_BROKER_URL)")
    interval = ctx.config.sweep_interval
    app = Celery("xiezuo", broker=ctx.config.broker_url, set_as_current=False)
    app.conf.update(
        task_ignore_result=True,
        task_acks_late=True,  # a sweep lost with its worker is sent again (and is harmless twice)
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # a busy worker leaves the next sweep to an idle one
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": 60},
        worker_hijack_root_logger=False,
        timezone="UTC",
        beat_schedule={"sweep": {"task": SWEEP, "schedule": interval,
                                 "options": {"expires": max(5.0, 5 * interval)}}},
    )

    @app.task(name=SWEEP)
    def sweep() -> dict:
        result = tick(ctx)
        return {"fired": len(result.fired), "dispatched": result.dispatched, "delivered": result.delivered,
                "jobs": result.jobs, "errors": result.errors}

    return app


def run_worker(ctx: Services, beat: bool = True, concurrency: int = 1, loglevel: str = "INFO") -> None:
    """Run a Celery worker on `ctx`'s broker in this process (threads pool), with the beat on a
    thread beside it unless `beat` is False; returns when the worker is stopped."""
    app = create_celery(ctx)
    scheduler = None
    if beat:
        # Each worker's beat keeps its schedule in a file of its own: beats never share state.
        schedule = os.path.join(tempfile.gettempdir(), f"xiezuo-beat-{os.getpid()}")
        scheduler = EmbeddedService(app, thread=True, schedule_filename=schedule)
        scheduler.start()
    try:
        app.Worker(pool="threads" if concurrency > 1 else "solo", concurrency=concurrency,
                   loglevel=loglevel, without_heartbeat=True, without_mingle=True,
                   without_gossip=True).start()
    finally:
        if scheduler is not None:
            scheduler.stop()
