"""Two users completing the same task at the same moment: exactly one wins, never a lost write."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from engine.bootstrap import bootstrap
from engine.bpmn.deploy import deploy
from engine.config import EngineConfig
from engine.db.models import AuditEvent
from engine.errors import StaleInstance, TaskNotReady
from engine.tasks.inbox import group_tasks
from engine.workflow.instances import complete_task, start_instance
from tests.conftest import fixture_files
from tests.helpers import add_user


@pytest.mark.parametrize("rounds", [5])
def test_concurrent_completion_has_exactly_one_winner(ctx, db_url, clock, rounds):
    deploy(ctx, fixture_files("loop_2task.bpmn"), "owner")
    add_user(ctx, "alice", "team")
    add_user(ctx, "bob", "team")
    # A second, independent set of services: as if it were another web process.
    other = bootstrap(EngineConfig(database_url=db_url, clock=clock), migrate=False)
    try:
        for n in range(rounds):
            started = start_instance(ctx, "loop_2task", "alice", {}, f"K-{n}")
            task = group_tasks(ctx, "alice").items[0]
            assert task["instance_id"] == started.instance_id
            outcomes: list[object] = []
            barrier = threading.Barrier(2)

            def attempt(services, user, task=task, outcomes=outcomes, barrier=barrier):
                barrier.wait()
                try:
                    outcomes.append(complete_task(services, task["task_id"], user, {"note": user}))
                except (TaskNotReady, StaleInstance) as exc:
                    outcomes.append(exc)

            threads = [threading.Thread(target=attempt, args=(ctx, "alice")),
                       threading.Thread(target=attempt, args=(other, "bob"))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            wins = [o for o in outcomes if not isinstance(o, Exception)]
            losses = [o for o in outcomes if isinstance(o, Exception)]
            assert len(wins) == 1 and len(losses) == 1, outcomes
            with ctx.db.read() as s:
                completions = s.scalar(select(func.count()).select_from(AuditEvent).where(
                    AuditEvent.instance_id == started.instance_id, AuditEvent.event_type == "task_completed"))
            assert completions == 1
            # The next task is open exactly once, whoever won.
            open_b = [t for t in group_tasks(ctx, "alice").items if t["instance_id"] == started.instance_id]
            assert [t["element_id"] for t in open_b] == ["TaskB"]
            complete_task(other, open_b[0]["task_id"], "bob", {"again": False})
    finally:
        other.db.dispose()
