"""`xiezuo audit anchor | verify | replay` as a user runs them: a real process, exit codes, output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from engine.bootstrap import bootstrap
from engine.bpmn.deploy import deploy
from engine.config import EngineConfig
from engine.tasks.inbox import group_tasks
from engine.workflow.instances import complete_task, start_instance
from tests.conftest import FakeClock, fixture_files
from tests.helpers import add_user

ROOT = Path(__file__).parents[2]


@pytest.fixture
def database(tmp_path):
    """A SQLite file with three instances of loop_2task, one of them completed."""
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    ctx = bootstrap(EngineConfig(database_url=url, clock=FakeClock()))
    deploy(ctx, fixture_files("loop_2task.bpmn"), "owner")
    add_user(ctx, "alice", "team")
    ids = [start_instance(ctx, "loop_2task", "alice", {}, f"K-{n}").instance_id for n in range(3)]
    task = next(t for t in group_tasks(ctx, "alice").items if t["instance_id"] == ids[0])
    complete_task(ctx, task["task_id"], "alice", {"note": "一"})
    task = next(t for t in group_tasks(ctx, "alice").items if t["instance_id"] == ids[0])
    complete_task(ctx, task["task_id"], "alice", {"again": False})
    yield url, ctx, ids
    ctx.db.dispose()


def _xiezuo(url: str, *args: str, code: int = 0) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "engine.cli.main", "--database-url", url, *args], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    return done


def test_anchor_verify_and_replay_from_the_command_line(database):
    url, ctx, ids = database
    anchored = _xiezuo(url, "audit", "anchor", "--as", "shenjie").stdout
    # three requests' chains and the process's own (its deploy)
    assert anchored.startswith("anchor #1 at ") and "over 4 chain(s) (4 moved since the previous one)" in anchored
    verified = _xiezuo(url, "audit", "verify", "--progress").stdout
    assert verified.startswith("3 instance(s) and 1 process chain(s) checked, 1 anchor(s), the latest #1 at ")
    assert "0 problem(s)" in verified

    done = _xiezuo(url, "audit", "replay", "--all", "--progress")
    assert done.stdout.strip() == "3 instance(s) replayed, 0 with mismatches"
    assert "replaying" in done.stderr and "3/3" in done.stderr  # the progress bar
    one = json.loads(_xiezuo(url, "--json", "audit", "replay", ids[0]).stdout)
    assert one == {"instances": 1, "matched": 1, "mismatches": []}
    assert _xiezuo(url, "audit", "replay", "--all", "--no-progress").stderr == ""

    with ctx.db.engine.begin() as conn:  # the stored state of the second instance altered
        conn.execute(text("UPDATE process_instance SET status = 'completed' WHERE id = :i"), {"i": ids[1]})
        conn.execute(text("DELETE FROM audit_event WHERE instance_id = :i AND seq = 2"), {"i": ids[2]})
    mismatch = _xiezuo(url, "audit", "replay", "--all", code=1).stdout
    assert mismatch.startswith("3 instance(s) replayed, 2 with mismatches")
    assert f"  {ids[1]} (K-1): 1 difference(s)\n    status: stored completed, replayed running" in mismatch
    assert f"  {ids[2]} (K-2): " in mismatch
    bad = _xiezuo(url, "audit", "verify", code=1).stdout
    assert f"{ids[2]} #2 deleted: row 2 missing at the end" in bad

    usage = _xiezuo(url, "audit", "replay", code=2)
    assert "give an INSTANCE or --all" in usage.stderr
    missing = _xiezuo(url, "audit", "replay", "nope", code=2)
    assert missing.stderr == "error (not_found): 需求 nope 不存在\n"
