"""What one command may write: a script's values and a step's task data are bounded, checked
before anything is written; the instance stops errored at the element, and a retry runs it again."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from engine.audit import replay
from engine.bpmn.deploy import deploy
from engine.errors import CommandTooLarge, InstanceErrored
from engine.tasks.inbox import my_tasks
from engine.workflow.instances import complete_task, describe_instance, retry_instance, start_instance
from engine.workflow.timers import run_due_timers
from tests.conftest import fixture_files
from tests.helpers import add_user, assert_reload_matches, reloaded_state

ORIGINAL = {"size": 1_000_000, "copies": 40}  # ['a' * 1000000] * 40: 40 MB of task data from 1 MB of memory


@pytest.fixture
def team(ctx):
    deploy(ctx, fixture_files("script_grow.bpmn"), "owner")
    add_user(ctx, "alice", "team")
    return ctx


def _stored(ctx) -> dict:
    """Row counts, and the bytes of instance state, of everything a command may write."""
    with ctx.db.engine.connect() as conn:
        found = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in (
            "process_instance", "instance_task", "audit_event", "inbox_task")}
        found["task_bytes"] = conn.execute(text("SELECT coalesce(sum(length(body)), 0) FROM instance_task")).scalar()
    return found


def _task(ctx, element: str) -> dict:
    (task,) = [t for t in my_tasks(ctx, "alice").items if t["element_id"] == element]
    return task


def _matched(ctx, instance_id: str) -> None:
    report = replay.replay_check(ctx, [instance_id])
    assert report["mismatches"] == [], report["mismatches"]


def test_a_script_repeating_a_megabyte_40_times_errors_at_its_task_and_writes_none_of_it(team):
    ctx = team
    with pytest.raises(InstanceErrored) as err:
        start_instance(ctx, "script_grow", "alice", ORIGINAL)
    assert err.value.element_id == "Build"
    assert "variable 'x'" in err.value.message and "256,000 bytes" in err.value.message
    with ctx.db.engine.connect() as conn:
        iid = conn.execute(text("SELECT id FROM process_instance")).scalar_one()
    detail = describe_instance(ctx, iid)
    assert detail["status"] == "errored" and detail["error"]["element_id"] == "Build"
    stored = _stored(ctx)
    assert stored["task_bytes"] < 20_000  # the tasks as they were before the script, not 40 MB of it
    assert "x" not in reloaded_state(ctx, iid)["tasks"][_build_id(ctx, iid)]["data"]
    _matched(ctx, iid)

    retried = retry_instance(ctx, iid, "owner", {"size": 10})  # the data fixed: 40 strings of 10
    assert retried.status == "running" and retried.bytes_written < 20_000
    assert_reload_matches(ctx, iid)
    review = _task(ctx, "Review")
    assert describe_instance(ctx, iid)["error"] is None
    complete_task(ctx, review["task_id"], "alice", {})
    _matched(ctx, iid)


def _build_id(ctx, instance_id: str) -> str:
    tasks = reloaded_state(ctx, instance_id)["tasks"]
    (found,) = [tid for tid, t in tasks.items() if t["task_spec"] == "Build"]
    return found


def test_a_start_that_would_write_more_than_a_command_may_is_refused_and_stores_nothing(team):
    ctx = team
    ctx.config.command_max_bytes = 50_000  # 40 KB values pass, but the script task and the next both hold them
    before = _stored(ctx)
    with pytest.raises(CommandTooLarge) as err:
        start_instance(ctx, "script_grow", "alice", {"size": 1000, "copies": 40})
    assert err.value.element_id == "Build" and err.value.size > 80_000 and err.value.limit == 50_000
    assert err.value.message_code == "command.too_large_because"
    assert (err.value.params["why"]["code"], err.value.params["why"]["params"]["task"],
            err.value.params["why"]["params"]["element"]) == ("command.grew_most", "Build the list", "Build")
    assert "“Build the list”（Build）的数据增长最多" in err.value.message and err.value.message.endswith("均未保存")
    english = err.value.text("en")
    assert "the data of “Build the list” (Build) grew most" in english and "nothing of it was saved" in english
    assert _stored(ctx) == before and before["process_instance"] == 0
    ctx.config.command_max_bytes = 1_000_000  # the fix: a limit the process fits in
    assert start_instance(ctx, "script_grow", "alice", {"size": 1000, "copies": 40}).status == "running"


def test_a_timer_step_too_large_to_save_stops_its_instance_where_it_was_and_a_retry_runs_it(team, clock):
    ctx = team
    iid = start_instance(ctx, "script_grow", "alice", {"size": 1000, "copies": 40}).instance_id
    complete_task(ctx, _task(ctx, "Review")["task_id"], "alice", {})
    before, state = _stored(ctx), reloaded_state(ctx, iid)
    ctx.config.command_max_bytes = 100_000  # Double's y (80 KB) in it and in the next task: over
    clock.advance(hours=2)
    assert run_due_timers(ctx) == [iid]  # fired once, refused, and the sweep went on
    assert run_due_timers(ctx) == []  # errored: not due again at every sweep
    detail = describe_instance(ctx, iid)
    assert detail["status"] == "errored" and detail["next_due_at"] is None
    error = detail["error"]
    assert error["element_id"] == "Double" and error["code"] == "command_too_large" and error["limit"] == 100_000
    assert "“Double the list”（Double）的数据增长最多，增加 8" in error["message"]
    assert reloaded_state(ctx, iid) == state  # nothing of the step was written
    after = _stored(ctx)
    assert after == {**before, "audit_event": before["audit_event"] + 1}  # only the instance_errored event
    last = detail["history"][-1]
    assert (last["type"], last["actor"], last["element_id"]) == ("instance_errored", "system", "Double")
    _matched(ctx, iid)

    ctx.config.command_max_bytes = 1_000_000
    assert retry_instance(ctx, iid, "owner").status == "running"  # the timer fires again, and fits now
    done = _task(ctx, "Done")
    assert len(reloaded_state(ctx, iid)["tasks"][done["task_id"]]["data"]["y"]) == 80
    _matched(ctx, iid)


def test_a_completion_too_large_to_save_leaves_the_task_open_to_complete_again(team):
    ctx = team
    iid = start_instance(ctx, "script_grow", "alice", {"size": 1000, "copies": 20}).instance_id
    review = _task(ctx, "Review")
    ctx.config.command_max_bytes = 30_000  # the stored 20 KB fit; Review and the waiting timer both holding them do not
    with pytest.raises(InstanceErrored) as err:
        complete_task(ctx, review["task_id"], "alice", {})
    # No task of this step added much: it names the task holding the most of what the step copies along.
    assert err.value.element_id == "Wait" and err.value.message_code == "instance.errored"
    assert "逐个任务传递的任务数据过大：“An hour later”（Wait）" in err.value.message
    assert describe_instance(ctx, iid)["status"] == "errored"
    assert _task(ctx, "Review")["task_id"] == review["task_id"]  # still open, as before the command
    ctx.config.command_max_bytes = 1_000_000
    assert complete_task(ctx, review["task_id"], "alice", {}).status == "running"
    _matched(ctx, iid)
