"""Background work: timers that fire on time, notifications that leave, and the periodic jobs.

One unit of work, `tick`, does everything that is due at the moment it runs:
- the timer sweep (engine.workflow.timers.run_due_timers): every instance whose timer is due is
  claimed and fired in its own transaction; then the steps' timeout actions due
  (engine.tasks.timeouts.run_due_timeouts), each once under its instance's lock;
- the notification sender: notices committed since the last look become deliveries by their
  recipients' preferences (delivery.dispatch_pending), and due deliveries are sent
  (delivery.deliver_due), with retries and rate limits;
- the periodic jobs of PERIODIC (anchoring the audit chains hourly, verifying them nightly,
  refreshing the dashboards' figures, forgetting expired idempotency keys), each claimed in
  background_job before it runs.

It runs in three ways, all calling `tick` every `config.sweep_interval` seconds (1 s), so a timer
fires within about a second of its due time:
- inside the web process (`xiezuo serve`, and each gunicorn worker through webui.wsgi) on a daemon
  thread, `start_thread`, when config.background is "thread" and no broker is configured;
- `xiezuo worker`: `Runner.run_forever` in a process of its own, as many as wanted;
- Celery on a broker (config.broker_url, e.g. Redis): engine.celery_app's periodic task
  `xiezuo.sweep` calls `tick` on whichever worker takes it.
However many run at once, each timer fires once and each delivery is sent once: every piece of
work is claimed in the database (FOR UPDATE SKIP LOCKED on PostgreSQL, the write lock on SQLite)
in the transaction that does it, so a worker killed mid-way leaves its work to the next sweep.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from engine import notify as delivery
from engine.analytics import figures as analytics
from engine.audit import anchors as audit_anchors
from engine.audit import verify as audit_verify
from engine.context import Services
from engine.db.tx import Tx
from engine.tasks.timeouts import run_due_timeouts
from engine.workflow import idempotency
from engine.workflow.timers import run_due_timers

log = logging.getLogger("xiezuo.background")

TIMERS_PER_TICK = 500  # then the notices get their turn; the next tick goes on with the timers


@dataclass(frozen=True)
class Periodic:
    """A job that runs every `every`, once across all workers."""

    name: str
    every: timedelta
    run: Callable[[Services], object]


PERIODIC: tuple[Periodic, ...] = (
    # Anchors bound what an edit of the audit log can hide: at most the last hour.
    Periodic("audit_anchor", timedelta(hours=1), lambda ctx: audit_anchors.make_anchor(ctx)),
    Periodic("audit_verify", timedelta(hours=24), lambda ctx: audit_verify.verify_and_record(ctx)),
    # The dashboards' derived figures (per-task spans, flow counts) catch up with the audit log.
    Periodic("analytics_refresh", timedelta(minutes=1), lambda ctx: analytics.refresh(ctx)),
    # Retried API commands find their answers for config.idempotency_hours, and no longer.
    Periodic("idempotency_cleanup", timedelta(hours=1), lambda ctx: idempotency.forget_expired(ctx)),
)


@dataclass
class TickResult:
    fired: list[str] = field(default_factory=list)  # instances whose timers fired
    timed_out: list[str] = field(default_factory=list)  # tasks whose step's timeout action ran
    dispatched: int = 0  # notices turned into deliveries
    delivered: int = 0  # deliveries sent (or given up) in this tick
    jobs: list[str] = field(default_factory=list)  # periodic jobs run
    errors: list[str] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        return bool(self.fired or self.timed_out or self.dispatched or self.delivered or self.jobs)


def _guarded(result: TickResult, what: str, work: Callable[[], object]):
    """Run one part of a tick; a failure is logged and noted, and the other parts still run."""
    try:
        return work()
    except Exception as exc:  # noqa: BLE001 - a background loop must outlive any one failure
        log.exception("background %s failed", what)
        result.errors.append(f"{what}: {type(exc).__name__}: {exc}")
        return None


def tick(ctx: Services, now: datetime | None = None, periodic: tuple[Periodic, ...] = PERIODIC) -> TickResult:
    """Do everything due at `now` (default: the clock) once; safe to run in any number of workers."""
    now = now or ctx.now()
    result = TickResult()
    result.fired = _guarded(result, "timers", lambda: run_due_timers(ctx, now, limit=TIMERS_PER_TICK)) or []
    result.timed_out = _guarded(result, "timeouts", lambda: run_due_timeouts(ctx, now, limit=TIMERS_PER_TICK)) or []
    result.dispatched = _guarded(result, "dispatch", lambda: delivery.dispatch_pending(ctx, now)) or 0
    result.delivered = _guarded(result, "delivery", lambda: delivery.deliver_due(ctx, now)) or 0
    for job in periodic:
        if _guarded(result, f"claim {job.name}", lambda job=job: claim_job(ctx, job, now)):
            error = None
            try:
                job.run(ctx)
                result.jobs.append(job.name)
            except Exception as exc:  # noqa: BLE001 - recorded on the job, retried at its next run
                log.exception("background job %s failed", job.name)
                error = f"{type(exc).__name__}: {exc}"
                result.errors.append(f"{job.name}: {error}")
            _finish_job(ctx, job, error)
    return result


# ---------------------------------------------------------------------------------- periodic jobs
def claim_job(ctx: Services, job: Periodic, now: datetime) -> bool:
    """Take `job` if it is due at `now`: move its next run on by its period, in one transaction, so
    no other worker takes the same run. A job never seen before is due at once."""
    with ctx.db.transaction() as tx:
        lock = " FOR UPDATE SKIP LOCKED" if tx.postgres else ""
        found = tx.one("SELECT next_run_at FROM background_job WHERE name = ?" + lock, (job.name,))
        if found is None:
            if tx.postgres:  # two workers meeting a new job: the second one's insert waits, then skips
                inserted = tx.run("INSERT INTO background_job (name, next_run_at, last_started_at) VALUES (?, ?, ?) "
                                  "ON CONFLICT (name) DO NOTHING",
                                  (job.name, tx.stamp(now + job.every), tx.stamp(now)))
                return inserted == 1
            exists = tx.one("SELECT 1 FROM background_job WHERE name = ?", (job.name,))
            if exists:
                return False
            tx.run("INSERT INTO background_job (name, next_run_at, last_started_at) VALUES (?, ?, ?)",
                   (job.name, tx.stamp(now + job.every), tx.stamp(now)))
            return True
        if tx.when(found[0]) > now:
            return False
        tx.run("UPDATE background_job SET next_run_at = ?, last_started_at = ? WHERE name = ?",
               (tx.stamp(now + job.every), tx.stamp(now), job.name))
        return True


def _finish_job(ctx: Services, job: Periodic, error: str | None) -> None:
    with ctx.db.transaction() as tx:
        tx.run("UPDATE background_job SET last_finished_at = ?, last_error = ? WHERE name = ?",
               (tx.stamp(ctx.now()), error, job.name))


def jobs(ctx: Services) -> list[dict]:
    """The periodic jobs with their last and next runs, for the admin page."""
    with ctx.db.transaction(write=False) as tx:
        rows = {r[0]: r for r in tx.all("SELECT name, next_run_at, last_started_at, last_finished_at, last_error "
                                         "FROM background_job")}
    listed = []
    for job in PERIODIC:
        row = rows.get(job.name)
        listed.append({"name": job.name, "every_seconds": int(job.every.total_seconds()),
                       "next_run_at": _iso(row[1]) if row else None,
                       "last_started_at": _iso(row[2]) if row else None,
                       "last_finished_at": _iso(row[3]) if row else None,
                       "last_error": row[4] if row else None})
    return listed


def _iso(value) -> str | None:
    found = Tx.when(value)
    return found.isoformat() if found else None


# ---------------------------------------------------------------------------------- the loop
class Runner:
    """Calls `tick` every `interval` seconds until stopped; a busy tick is followed by the next at
    once, so a backlog drains at full speed."""

    def __init__(self, ctx: Services, interval: float | None = None):
        self.ctx = ctx
        self.interval = ctx.config.sweep_interval if interval is None else interval
        self.stopping = threading.Event()
        self.ticks = 0

    def run_forever(self) -> None:
        log.info("background runner started (every %.1f s)", self.interval)
        while not self.stopping.is_set():
            started = time.monotonic()
            result = tick(self.ctx)
            self.ticks += 1
            if result.busy and not result.errors:
                continue
            self.stopping.wait(max(0.0, self.interval - (time.monotonic() - started)))
        log.info("background runner stopped")

    def stop(self) -> None:
        self.stopping.set()


def start_thread(ctx: Services) -> Runner:
    """Run the background work on a daemon thread of this process (the embedded default)."""
    runner = Runner(ctx)
    threading.Thread(target=runner.run_forever, name="xiezuo-background", daemon=True).start()
    return runner
