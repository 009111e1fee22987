"""A timer waits for the flow: it is armed, counts towards the instance's next due time and fires
only once the flow has reached it, also when every command reads the instance from the database
(another web worker, a `xiezuo` process); and the audit replay of such an instance matches."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from engine.audit.replay import replay_check
from engine.bpmn.deploy import deploy
from engine.workflow.instances import complete_task, describe_instance, start_instance
from engine.workflow.store import WorkflowCache
from engine.workflow.timers import run_due_timers
from tests.conftest import fixture_files
from tests.helpers import add_user

FILES = ("timer_chain.bpmn", "timer_chain_called.bpmn", "timer_later_boundary.bpmn", "timer_loop.bpmn",
         "timer_after_gateway.bpmn")


@pytest.fixture
def cold(ctx):
    """Services that keep no workflow between commands: each command reads its instance from the
    database, as a command in another web worker or in a `xiezuo` process of its own does."""
    ctx.store.cache = WorkflowCache(0)
    deploy(ctx, fixture_files(*FILES), "owner")
    add_user(ctx, "alice", "team")
    return ctx


class Instance:
    """One instance driven through the services with the test's clock."""

    def __init__(self, ctx, clock, process_id: str):
        self.ctx, self.clock = ctx, clock
        self.id = start_instance(ctx, process_id, "alice", {}).instance_id

    def describe(self) -> dict:
        return describe_instance(self.ctx, self.id)

    def open(self) -> list[str]:
        return sorted(t["element_id"] for t in self.describe()["open_tasks"])

    def next_due(self) -> datetime | None:
        due = self.describe()["next_due_at"]
        return datetime.fromisoformat(due) if due else None

    def fired(self) -> list[str]:
        return [e["element_id"] for e in self.describe()["history"] if e["type"] == "timer_fired"]

    def complete(self, element_id: str, data: dict | None = None) -> None:
        (task,) = [t for t in self.describe()["open_tasks"] if t["element_id"] == element_id]
        complete_task(self.ctx, task["task_id"], "alice", data or {})

    def sweep_after(self, **delta) -> bool:
        """Move the clock on and run the timer sweep; whether it advanced this instance."""
        self.clock.advance(**delta)
        return self.id in run_due_timers(self.ctx)

    def assert_replays(self) -> None:
        report = replay_check(self.ctx, [self.id])
        assert report["mismatches"] == [], report["mismatches"]
        assert report["matched"] == 1


@pytest.mark.parametrize("process_id", ["timer_chain", "timer_chain_called"])  # on its own, in a call activity
def test_a_timer_after_four_steps_waits_until_the_fourth_is_done(cold, clock, process_id):
    run = Instance(cold, clock, process_id)
    for step in ("Step1", "Step2", "Step3"):
        run.complete(step)
        assert run.next_due() is None
        assert not run.sweep_after(seconds=3)
    assert run.open() == ["Step4"]  # one step at a time: Step5 never opened beside the others

    run.complete("Step4")
    assert run.next_due() == clock() + timedelta(seconds=2)  # from reaching it, not from Step1
    assert not run.sweep_after(seconds=1)
    assert run.sweep_after(seconds=1)
    assert (run.open(), run.fired()) == (["Step5"], ["TwoSeconds"])
    run.complete("Step5")
    assert run.describe()["status"] == "completed"
    run.assert_replays()


def test_a_time_limit_on_a_later_step_starts_when_that_step_opens(cold, clock):
    run = Instance(cold, clock, "timer_later_boundary")
    run.complete("Step1")
    assert run.next_due() is None
    assert not run.sweep_after(days=1)
    assert run.open() == ["Step2"]

    run.complete("Step2")
    assert run.next_due() == clock() + timedelta(seconds=2)
    assert run.sweep_after(seconds=2)
    assert (run.open(), run.fired()) == (["Escalate"], ["Step3Late"])  # interrupting: Step3 is gone
    run.assert_replays()


def test_a_timer_in_a_loop_waits_in_every_round(cold, clock):
    run = Instance(cold, clock, "timer_loop")
    for _ in range(2):
        run.complete("Ask")
        assert run.next_due() is None
        assert not run.sweep_after(hours=2)
        assert run.open() == ["Answer"]
        run.complete("Answer")
        assert run.next_due() == clock() + timedelta(hours=1)
        assert run.sweep_after(hours=1)
        assert run.open() == ["Check"]
        run.complete("Check", {"again": True})
    assert run.open() == ["Ask"] and run.next_due() is None
    assert run.fired() == ["Rest", "Rest"]
    run.assert_replays()


def test_timers_after_a_gateway_wait_on_the_way_taken_and_never_fire_on_the_other(cold, clock):
    run = Instance(cold, clock, "timer_after_gateway")
    assert run.next_due() is None
    run.complete("Decide", {"route": "quick"})
    run.complete("Quick")
    assert run.next_due() is None
    assert not run.sweep_after(days=1)
    assert run.open() == ["Confirm"]

    run.complete("Confirm")
    assert run.next_due() == clock() + timedelta(seconds=2)
    assert run.sweep_after(seconds=2)
    assert not run.sweep_after(days=1)
    assert (run.open(), run.fired()) == (["Done"], ["QuickWait"])  # SlowWait, on the way not taken, never
    run.assert_replays()


def test_a_sweep_told_to_fire_ahead_of_the_clock_records_when_it_fired(cold, clock):
    # `xiezuo timers run-due --now <tomorrow>` a second after the flow reached the two-second timer:
    # the timer fires as of tomorrow, and so the record says, or the replay would not fire it.
    chain = Instance(cold, clock, "timer_chain")
    for step in ("Step1", "Step2", "Step3", "Step4"):
        chain.complete(step)
    clock.advance(seconds=1)
    tomorrow = clock.now + timedelta(days=1)
    assert run_due_timers(cold, tomorrow) == [chain.id]
    assert chain.open() == ["Step5"]
    fired = [e for e in chain.describe()["history"] if e["type"] == "timer_fired"]
    assert [datetime.fromisoformat(e["at"]) for e in fired] == [tomorrow]
    assert replay_check(cold, [chain.id])["mismatches"] == []
