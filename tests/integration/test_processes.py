"""Several operating-system processes on one database: timer sweeps and completions never double up.

Each worker is a fresh interpreter (multiprocessing "spawn") with its own engine services, as a
second web or worker process would be; they start together behind a barrier.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from datetime import datetime

from sqlalchemy import select

from engine.bootstrap import bootstrap
from engine.bpmn.deploy import deploy
from engine.config import EngineConfig
from engine.db.models import AuditEvent
from engine.tasks.inbox import group_tasks
from engine.workflow.instances import start_instance
from tests.conftest import fixture_files
from tests.helpers import add_user

WORKERS = 3
SPAWN = multiprocessing.get_context("spawn")


def _sweep(url: str, now: datetime, barrier, results) -> None:
    from engine.workflow.timers import run_due_timers

    services = bootstrap(EngineConfig(database_url=url), migrate=False)
    try:
        barrier.wait(60)
        results.put(("ok", run_due_timers(services, now)))
    except Exception as exc:  # reported to the test, which fails on it
        results.put(("error", repr(exc)))
    finally:
        services.db.dispose()


def _complete(url: str, task_id: str, user: str, barrier, results) -> None:
    from engine.errors import StaleInstance, TaskNotReady
    from engine.workflow.instances import complete_task

    services = bootstrap(EngineConfig(database_url=url), migrate=False)
    try:
        barrier.wait(60)
        results.put(("won", complete_task(services, task_id, user, {"note": user}).instance_id))
    except (TaskNotReady, StaleInstance) as exc:
        results.put(("lost", type(exc).__name__))
    except Exception as exc:
        results.put(("error", repr(exc)))
    finally:
        services.db.dispose()


def _start(url: str, barrier, results) -> None:
    from engine.db.migrate import alembic_config

    try:
        barrier.wait(60)
        services = bootstrap(EngineConfig(database_url=url))  # upgrades the schema, as every web worker does
        with services.db.engine.connect() as conn:
            from alembic.migration import MigrationContext
            from alembic.script import ScriptDirectory

            at = MigrationContext.configure(conn).get_current_revision()
            results.put(("ok", at == ScriptDirectory.from_config(alembic_config(url)).get_current_head()))
        services.db.dispose()
    except Exception as exc:
        results.put(("error", repr(exc)))


def _run_workers(target, args_per_worker: list[tuple]) -> list[tuple]:
    barrier = SPAWN.Barrier(len(args_per_worker))
    results = SPAWN.Queue()
    procs = [SPAWN.Process(target=target, args=(*args, barrier, results)) for args in args_per_worker]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    return outcomes


def _events(ctx, event_type: str) -> Counter:
    with ctx.db.read() as s:
        return Counter(s.scalars(select(AuditEvent.instance_id).where(AuditEvent.event_type == event_type)))


def test_timer_sweeps_in_several_processes_fire_each_timer_once(ctx, db_url, clock):
    deploy(ctx, fixture_files("timer_boundary.bpmn"), "owner")
    add_user(ctx, "alice", "team")
    add_user(ctx, "carol", "admins")
    ids = {start_instance(ctx, "timer_boundary", "alice", {}, f"T-{n}").instance_id for n in range(12)}
    due = clock.advance(hours=24)

    outcomes = _run_workers(_sweep, [(db_url, due)] * WORKERS)

    assert [kind for kind, _ in outcomes] == ["ok"] * WORKERS, outcomes
    fired = [instance for _, got in outcomes for instance in got]
    assert sorted(fired) == sorted(ids)  # every instance by exactly one sweeper
    assert _events(ctx, "timer_fired") == Counter({i: 1 for i in ids})
    assert group_tasks(ctx, "carol").total == len(ids)  # each escalation opened once
    assert group_tasks(ctx, "alice").total == 0


def test_processes_completing_one_task_have_exactly_one_winner(ctx, db_url):
    deploy(ctx, fixture_files("loop_2task.bpmn"), "owner")
    for user in ("alice", "bob", "dan"):
        add_user(ctx, user, "team")
    started = start_instance(ctx, "loop_2task", "alice", {})
    task = group_tasks(ctx, "alice").items[0]

    outcomes = _run_workers(_complete, [(db_url, task["task_id"], u) for u in ("alice", "bob", "dan")])

    assert sorted(kind for kind, _ in outcomes) == ["lost", "lost", "won"], outcomes
    assert _events(ctx, "task_completed") == Counter({started.instance_id: 1})
    assert [t["element_id"] for t in group_tasks(ctx, "alice").items] == ["TaskB"]


def test_processes_starting_together_on_a_new_database_all_find_it_migrated(db_url):
    # gunicorn starts its workers at once, each bootstrapping the engine on a database nobody created
    assert _run_workers(_start, [(db_url,)] * WORKERS) == [("ok", True)] * WORKERS
