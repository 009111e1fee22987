"""Idempotency keys: the key is marked in the command's own transaction, a run that died is taken
over, a second run at once is refused, and the keys are forgotten after the retention period."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from engine.background import PERIODIC, tick
from engine.bpmn.deploy import deploy
from engine.db.models import IdempotentCommand, ProcessInstance
from engine.errors import IdempotencyAnswerLost, IdempotencyInProgress, IdempotencyKeyReused, InvalidInput, NotFound
from engine.org.accounts import create_token
from engine.workflow import idempotency
from engine.workflow.idempotency import RUNNING_LEASE, Answer, claim
from engine.workflow.instances import start_instance
from tests.conftest import fixture_files
from tests.helpers import add_user

ASKED = ("POST", "/api/v1/requests", "a" * 64)


@pytest.fixture
def deployed(ctx):
    deploy(ctx, fixture_files("sequential_8.bpmn"), "owner")
    return ctx


def _instances(ctx) -> int:
    with ctx.db.read() as s:
        return s.scalar(select(func.count()).select_from(ProcessInstance))


def _state(ctx, user: str = "alice", key: str = "k1") -> str | None:
    with ctx.db.read() as s:
        found = s.get(IdempotentCommand, (user, key))
        return found.state if found else None


def test_the_key_is_marked_in_the_commands_transaction_and_its_answer_replayed(deployed):
    ctx = deployed
    taken = claim(ctx, "alice", "k1", *ASKED)
    assert taken.replay is None and _state(ctx) == "running"
    with taken.watching():
        started = start_instance(ctx, "sequential_8", "alice", {}, "K-1")
    assert taken.committed and _state(ctx) == "committed"
    # The server stopped before the answer was kept: the retry learns the command ran, and runs nothing.
    with pytest.raises(IdempotencyAnswerLost):
        claim(ctx, "alice", "k1", *ASKED)
    idempotency.answer(taken, Answer(201, f'{{"instance_id": "{started.instance_id}"}}', "/api/v1/requests/x"))
    again = claim(ctx, "alice", "k1", *ASKED)
    assert again.replay == Answer(201, f'{{"instance_id": "{started.instance_id}"}}', "/api/v1/requests/x")
    with pytest.raises(IdempotencyKeyReused):
        claim(ctx, "alice", "k1", "POST", "/api/v1/requests", "b" * 64)
    assert claim(ctx, "bob", "k1", *ASKED).replay is None  # another caller's key of the same name
    assert _instances(ctx) == 1


def test_a_command_through_the_orm_marks_its_key_in_its_own_transaction_too(deployed):
    ctx = deployed
    add_user(ctx, "alice")
    taken = claim(ctx, "alice", "k1", "POST", "/api/v1/tokens", "a" * 64)
    with pytest.raises(NotFound), taken.watching():
        create_token(ctx, "nobody", "脚本")  # refused inside its session: nothing committed, nor the key
    assert _state(ctx) == "running" and not taken.committed
    with taken.watching():
        create_token(ctx, "alice", "脚本")
    assert taken.committed and _state(ctx) == "committed"


def test_a_command_that_fails_leaves_its_key_unmarked_and_released(deployed):
    ctx = deployed
    taken = claim(ctx, "alice", "k1", *ASKED)
    with pytest.raises(InvalidInput), taken.watching():
        start_instance(ctx, "sequential_8", "alice", ["not", "an", "object"])
    assert not taken.committed and _state(ctx) == "running"
    idempotency.release(taken)
    assert _state(ctx) is None
    assert claim(ctx, "alice", "k1", *ASKED).attempt == 1  # the retry runs afresh


def test_a_run_still_going_refuses_the_retry_and_a_dead_one_is_taken_over(deployed, clock):
    ctx = deployed
    first = claim(ctx, "alice", "k1", *ASKED)
    with pytest.raises(IdempotencyInProgress):
        claim(ctx, "alice", "k1", *ASKED)
    clock.advance(seconds=RUNNING_LEASE.total_seconds() + 1)
    second = claim(ctx, "alice", "k1", *ASKED)
    assert second.attempt == first.attempt + 1
    # The first run was only slow: its command reaches its commit after the takeover and is rolled back.
    with pytest.raises(IdempotencyInProgress), first.watching():
        start_instance(ctx, "sequential_8", "alice", {}, "K-1")
    assert _instances(ctx) == 0 and not first.committed
    with second.watching():
        start_instance(ctx, "sequential_8", "alice", {}, "K-2")
    assert _instances(ctx) == 1 and _state(ctx) == "committed"


def test_two_runs_of_one_key_at_once_one_runs_the_other_is_refused(deployed):
    ctx = deployed
    start = threading.Barrier(4)
    outcomes: list[str] = []

    def attempt():
        start.wait()
        try:
            claim(ctx, "alice", "k1", *ASKED)
            outcomes.append("claimed")
        except IdempotencyInProgress:
            outcomes.append("refused")

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["claimed", "refused", "refused", "refused"]


def test_keys_are_forgotten_after_the_retention_period_by_the_background_job(deployed, clock):
    ctx = deployed
    idempotency.answer(claim(ctx, "alice", "k1", *ASKED), Answer(200, "{}"))
    idempotency.answer(claim(ctx, "alice", "k2", *ASKED), Answer(200, "{}"))
    assert [job.name for job in PERIODIC if job.name == "idempotency_cleanup"]
    tick(ctx)  # the job's first run: nothing is old enough
    assert _state(ctx, key="k1") == "answered"
    clock.advance(hours=ctx.config.idempotency_hours, seconds=1)
    assert claim(ctx, "alice", "k2", *ASKED).replay is None  # expired: a new command, even before the cleanup
    assert "idempotency_cleanup" in tick(ctx).jobs
    assert _state(ctx, key="k1") is None and _state(ctx, key="k2") == "running"
