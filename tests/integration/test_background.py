"""Background work: timers fire on time and exactly once, however many workers run and whichever dies.

In-process tests drive engine.background.tick with the test's clock; the process tests start real
`xiezuo worker` processes (plain, and Celery on Redis) on the wall clock, kill one of them while
they fire a batch of timers, and read the audit log for what happened: each timer fired once, and
no later than 5 seconds after it was due.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.background import Periodic, Runner, claim_job, jobs, tick
from engine.bootstrap import bootstrap
from engine.bpmn.deploy import deploy
from engine.config import EngineConfig
from engine.db.models import AuditEvent, BackgroundJob, InboxTask, ProcessInstance
from engine.workflow.instances import start_instance
from tests.conftest import PG_URL, fixture_files

ROOT = Path(__file__).parents[2]
XIEZUO = str(Path(sys.executable).parent / "xiezuo")
REDIS_URL = os.environ.get("XIEZUO_TEST_REDIS_URL")
LATE_AT_MOST = timedelta(seconds=5)


def _start_due(ctx, due: datetime, n: int, prefix: str = "T") -> list[str]:
    return [start_instance(ctx, "timer_at", "alice", {"due": due.isoformat()}, f"{prefix}-{i}").instance_id
            for i in range(n)]


def _fired(ctx) -> dict[str, list[datetime]]:
    """Instance id -> the times its timer fired, from the audit log."""
    found: dict[str, list[datetime]] = {}
    with ctx.db.read() as s:
        for instance_id, at in s.execute(select(AuditEvent.instance_id, AuditEvent.at)
                                         .where(AuditEvent.event_type == "timer_fired")):
            found.setdefault(instance_id, []).append(at)
    return found


def _after_tasks(ctx) -> dict[str, int]:
    with ctx.db.read() as s:
        return dict(s.execute(select(InboxTask.instance_id, func.count()).where(InboxTask.element_id == "AfterDue")
                              .group_by(InboxTask.instance_id)).all())


# ---------------------------------------------------------------------------------- in process
def test_a_tick_fires_what_is_due_and_nothing_else(ctx, clock):
    deploy(ctx, fixture_files("timer_at.bpmn"), "owner")
    soon = _start_due(ctx, clock() + timedelta(minutes=10), 3, "soon")
    later = _start_due(ctx, clock() + timedelta(hours=5), 2, "later")

    assert tick(ctx, periodic=()).fired == []
    clock.advance(minutes=11)
    result = tick(ctx, periodic=())
    assert sorted(result.fired) == sorted(soon)
    assert result.errors == []
    assert tick(ctx, periodic=()).fired == []  # fired once, not again
    assert sorted(_fired(ctx)) == sorted(soon)
    assert _after_tasks(ctx) == dict.fromkeys(soon, 1)
    with ctx.db.read() as s:
        waiting = set(s.scalars(select(ProcessInstance.id).where(ProcessInstance.next_due_at.is_not(None))))
    assert waiting == set(later)


def test_a_periodic_job_runs_once_per_period_and_records_its_failure(ctx, clock):
    runs: list[datetime] = []
    fail = {"now": False}

    def job(services):
        runs.append(services.now())
        if fail["now"]:
            raise RuntimeError("anchor store unavailable")

    periodic = (Periodic("counting", timedelta(hours=1), job),)
    assert tick(ctx, periodic=periodic).jobs == ["counting"]  # never run before: due at once
    assert tick(ctx, periodic=periodic).jobs == []
    clock.advance(minutes=59)
    assert tick(ctx, periodic=periodic).jobs == []
    clock.advance(minutes=2)
    fail["now"] = True
    result = tick(ctx, periodic=periodic)
    assert result.jobs == [] and result.errors == ["counting: RuntimeError: anchor store unavailable"]
    assert len(runs) == 2
    with ctx.db.read() as s:
        row = s.get(BackgroundJob, "counting")
        assert row.last_error == "RuntimeError: anchor store unavailable"
        assert row.next_run_at == clock() + timedelta(hours=1)


def test_the_default_jobs_anchor_the_audit_chains(ctx, clock):
    deploy(ctx, fixture_files("timer_at.bpmn"), "owner")
    _start_due(ctx, clock() + timedelta(days=1), 1)
    result = tick(ctx)
    assert result.errors == []
    assert "audit_anchor" in result.jobs
    listed = {j["name"]: j for j in jobs(ctx)}
    assert listed["audit_anchor"]["every_seconds"] == 3600
    assert listed["audit_anchor"]["next_run_at"] == (clock() + timedelta(hours=1)).isoformat()
    with ctx.db.transaction(write=False) as tx:
        assert tx.one("SELECT count(*) FROM audit_anchor")[0] == 1


def test_a_due_job_is_claimed_by_exactly_one_of_many_workers(db_url, clock):
    """Eight workers (each its own services, as separate processes have) claim one due run at once."""
    workers = [bootstrap(EngineConfig(database_url=db_url, clock=clock), migrate=(n == 0)) for n in range(8)]
    job = Periodic("once", timedelta(minutes=5), lambda ctx: None)
    for _ in range(2):  # the first run (a new job) and a later one
        barrier = threading.Barrier(len(workers))
        won: list[bool] = []

        def claim(ctx, barrier, won):
            barrier.wait()
            won.append(claim_job(ctx, job, clock()))

        threads = [threading.Thread(target=claim, args=(w, barrier, won)) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(won) == [False] * 7 + [True]
        clock.advance(minutes=6)
    for w in workers:
        w.db.dispose()


def test_the_web_process_runs_the_background_work_unless_told_otherwise(tmp_path):
    from webui import create_app
    from webui.config import WebConfig
    from webui.serving import start_background

    url = f"sqlite:///{tmp_path / 'web.db'}"
    off = create_app(WebConfig(engine=EngineConfig(database_url=url, background="off"), testing=True,
                               instance_path=str(tmp_path / "i1")))
    assert start_background(off) is None
    brokered = create_app(WebConfig(engine=EngineConfig(database_url=url, broker_url="redis://127.0.0.1:6379/9"),
                                    testing=True, instance_path=str(tmp_path / "i2")))
    assert start_background(brokered) is None

    app = create_app(WebConfig(engine=EngineConfig(database_url=url, sweep_interval=0.2), testing=True,
                               instance_path=str(tmp_path / "i3")))
    ctx = app.extensions["xiezuo"]
    deploy(ctx, fixture_files("timer_at.bpmn"), "owner")
    started = _start_due(ctx, datetime.now(UTC) + timedelta(seconds=1), 2)
    runner = start_background(app)
    assert isinstance(runner, Runner)
    try:
        deadline = time.monotonic() + 20
        while set(_fired(ctx)) != set(started):
            assert time.monotonic() < deadline, "the web process's runner did not fire the timers"
            time.sleep(0.2)
    finally:
        runner.stop()
    assert _after_tasks(ctx) == dict.fromkeys(started, 1)


def test_worker_once_on_the_command_line(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    ctx = bootstrap(EngineConfig(database_url=url))
    deploy(ctx, fixture_files("timer_at.bpmn"), "owner")
    started = _start_due(ctx, datetime.now(UTC) + timedelta(seconds=1), 2)
    time.sleep(1.2)
    out = subprocess.run([XIEZUO, "--database-url", url, "--json", "worker", "--once"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert sorted(result["fired"]) == sorted(started) and result["errors"] == []
    assert "audit_anchor" in result["jobs"]
    ctx.db.dispose()


# ---------------------------------------------------------------------------------- real workers
def _workers(argv: list[str], env: dict, logs: Path) -> list[subprocess.Popen]:
    started = []
    for n in range(3):
        with open(logs / f"worker-{n}.log", "wb") as log:  # the child keeps its own copy of the file
            started.append(subprocess.Popen([XIEZUO, *argv], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True))
    return started


def _log(logs: Path) -> str:
    return "\n".join(f"--- {f.name}\n{f.read_text(errors='replace')[-3000:]}" for f in sorted(logs.glob("*.log")))


def _stop(workers: list[subprocess.Popen]) -> None:
    for w in workers:
        if w.poll() is None:
            os.killpg(w.pid, signal.SIGTERM)
    for w in workers:
        try:
            w.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(w.pid, signal.SIGKILL)
            w.wait()


def _three_workers_one_killed(db_url: str, argv: list[str], extra_env: dict, logs: Path) -> None:
    """100 timers due in two batches a few seconds from now, three workers, one killed while they fire."""
    ctx = bootstrap(EngineConfig(database_url=db_url))
    deploy(ctx, fixture_files("timer_at.bpmn"), "owner")
    env = {**os.environ, "XIEZUO_DATABASE_URL": db_url, "XIEZUO_SWEEP_INTERVAL": "1", **extra_env}
    workers = _workers(argv, env, logs)
    try:
        time.sleep(3)  # let them start
        assert all(w.poll() is None for w in workers), _log(logs)
        due = datetime.now(UTC) + timedelta(seconds=4)
        first = _start_due(ctx, due, 50, "a")
        second = _start_due(ctx, due + timedelta(seconds=2), 50, "b")
        # Kill one worker while the batch is being fired.
        while not _fired(ctx):
            assert datetime.now(UTC) < due + LATE_AT_MOST, "no timer fired within 5 s of its due time\n" + _log(logs)
            time.sleep(0.05)
        os.killpg(workers[0].pid, signal.SIGKILL)
        workers[0].wait()
        deadline = time.monotonic() + 60
        while len(_fired(ctx)) < 100:
            assert time.monotonic() < deadline, f"only {len(_fired(ctx))} of 100 timers fired\n" + _log(logs)
            time.sleep(0.2)
        time.sleep(2)  # time for a duplicate, if there were one
        fired = _fired(ctx)
        assert set(fired) == set(first) | set(second)
        assert {i: len(at) for i, at in fired.items()} == dict.fromkeys(fired, 1)
        assert _after_tasks(ctx) == dict.fromkeys(fired, 1)
        lateness = [at[0] - (due if i in first else due + timedelta(seconds=2)) for i, at in fired.items()]
        assert min(lateness) >= timedelta(0)
        assert max(lateness) <= LATE_AT_MOST, f"a timer fired {max(lateness)} after it was due"
        assert all(w.poll() is None for w in workers[1:]), _log(logs)
    finally:
        _stop(workers)
        ctx.db.dispose()


@pytest.mark.slow
def test_three_worker_processes_fire_each_timer_once_within_5_s_with_one_killed(db_url, tmp_path):
    _three_workers_one_killed(db_url, ["worker", "--no-celery"], {}, tmp_path)


@pytest.mark.slow
@pytest.mark.postgres
def test_three_celery_workers_on_redis_fire_each_timer_once_within_5_s_with_one_killed(tmp_path):
    if not (PG_URL and REDIS_URL):
        pytest.skip("needs XIEZUO_TEST_DATABASE_URL and XIEZUO_TEST_REDIS_URL")
    import uuid

    import redis
    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    broker = redis.Redis.from_url(REDIS_URL)
    broker.delete("celery")  # no sweep messages left over from an earlier run
    try:
        _three_workers_one_killed(url, ["worker", "--celery"], {"XIEZUO_BROKER_URL": REDIS_URL}, tmp_path)
    finally:
        broker.delete("celery")
        broker.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
