"""Stored instance state in an older format is upgraded on read, rewritten whole by the next save and
replays as it did; state newer than the code, or from another serializer version, is refused."""

from __future__ import annotations

import dataclasses
import json

import pytest
from sqlalchemy import text

from engine.audit import replay
from engine.bpmn.deploy import deploy
from engine.errors import StateVersionUnsupported
from engine.tasks.inbox import group_tasks, my_tasks
from engine.workflow.instances import complete_task, describe_instance, start_instance
from engine.workflow.state_versions import MIGRATIONS, SERIALIZER_VERSION, VERSIONS, StateVersions, StoredState
from engine.workflow.store import InstanceStore
from tests.conftest import fixture_files
from tests.helpers import add_user, said


def _values_to_data(state: StoredState) -> None:
    """A format change of the kind a migration makes: format 2 kept task data under `values`."""
    for body in state.tasks.values():
        body["data"] = body.pop("values")


@pytest.fixture
def team(ctx):
    deploy(ctx, fixture_files("call_parent.bpmn", "call_child.bpmn"), "owner")
    add_user(ctx, "alice", "team")
    return ctx


def _with_versions(ctx, versions: StateVersions):
    return dataclasses.replace(ctx, store=InstanceStore(ctx.store.specs, None, versions))


def _rows(ctx, iid: str) -> dict:
    with ctx.db.engine.connect() as conn:
        one = lambda sql: conn.execute(text(sql), {"i": iid}).all()  # noqa: E731
        (version, serializer, meta), = one("SELECT state_version, serializer_version, meta FROM process_instance "
                                           "WHERE id = :i")
        return {"version": version, "serializer": serializer, "metas": [json.loads(meta)] + [
            json.loads(m) for (m,) in one("SELECT meta FROM instance_subprocess WHERE instance_id = :i")],
            "bodies": [json.loads(b) for (b,) in one("SELECT body FROM instance_task WHERE instance_id = :i")]}


def _store_as_version_1(ctx, iid: str, rename: bool) -> None:
    """Rewrite an instance's rows as format 1 stored them: metas without `completed` and `correlations`
    (and, with `rename`, task data under `values`), the row's version set back, as another writer would."""
    with ctx.db.engine.begin() as conn:
        run = lambda sql, **kw: conn.execute(text(sql), {"i": iid, **kw})  # noqa: E731
        for seq, body in run("SELECT seq, body FROM instance_task WHERE instance_id = :i").all():
            dct = json.loads(body)
            if rename:
                dct["values"] = dct.pop("data")
            run("UPDATE instance_task SET body = :b WHERE instance_id = :i AND seq = :s", b=json.dumps(dct), s=seq)
        strip = lambda m: json.dumps({k: v for k, v in json.loads(m).items()  # noqa: E731
                                      if k not in ("completed", "correlations")})
        for wf_id, meta in run("SELECT workflow_id, meta FROM instance_subprocess WHERE instance_id = :i").all():
            run("UPDATE instance_subprocess SET meta = :m WHERE instance_id = :i AND workflow_id = :w",
                m=strip(meta), w=wf_id)
        (meta,) = run("SELECT meta FROM process_instance WHERE id = :i").one()
        run("UPDATE process_instance SET meta = :m, state_version = 1, lock_version = lock_version + 1 "
            "WHERE id = :i", m=strip(meta))


def _set(ctx, iid: str, **columns) -> None:
    with ctx.db.engine.begin() as conn:
        conn.execute(text("UPDATE process_instance SET " + "".join(f"{c} = :{c}, " for c in columns)
                          + "lock_version = lock_version + 1 WHERE id = :i"), {"i": iid, **columns})


def _open_tasks(ctx) -> list[dict]:
    return group_tasks(ctx, "alice").items + my_tasks(ctx, "alice").items


def _matched(ctx, iid: str) -> None:
    report = replay.replay_check(ctx, [iid])
    assert report["mismatches"] == [] and report["matched"] == 1, report


@pytest.mark.parametrize("fabricated", [False, True], ids=["shipped", "with-a-renamed-key"])
def test_an_older_format_is_upgraded_continues_and_is_rewritten_whole(team, fabricated):
    ctx = _with_versions(team, StateVersions({**MIGRATIONS, 2: _values_to_data})) if fabricated else team
    current = ctx.store.versions.current
    iid = start_instance(ctx, "call_parent", "alice", {"note": "kept"}).instance_id
    assert _rows(ctx, iid)["version"] == current and _rows(ctx, iid)["serializer"] == SERIALIZER_VERSION
    _store_as_version_1(ctx, iid, rename=fabricated)
    old = _rows(ctx, iid)
    assert old["version"] == 1 and len(old["metas"]) == 2 and all("completed" not in m for m in old["metas"])
    assert all(("values" in b) == fabricated for b in old["bodies"])

    _matched(ctx, iid)  # the replay reads the old rows through the same upgrade
    assert describe_instance(ctx, iid)["status"] == "running"
    (task,) = _open_tasks(ctx)
    complete_task(ctx, task["task_id"], "alice", {})

    new = _rows(ctx, iid)
    assert new["version"] == current and new["serializer"] == SERIALIZER_VERSION
    assert len(new["bodies"]) >= len(old["bodies"])
    assert all("data" in b and "values" not in b for b in new["bodies"])  # finished tasks' rows too
    assert all("completed" in m and "correlations" in m for m in new["metas"])
    assert any(b["data"].get("note") == "kept" for b in new["bodies"])
    _matched(ctx, iid)
    while _open_tasks(ctx):
        complete_task(ctx, _open_tasks(ctx)[0]["task_id"], "alice", {})
    assert describe_instance(ctx, iid)["status"] == "completed"
    _matched(ctx, iid)


def test_state_newer_than_the_code_or_from_another_serializer_is_refused(team):
    ctx = team
    iid = start_instance(ctx, "call_parent", "alice", {}).instance_id
    (task,) = _open_tasks(ctx)
    what = {"code": "what.instance_named", "params": {"id": iid}}
    for columns, code, params, english in (
            ({"state_version": VERSIONS.current + 1}, "state.too_new",
             {"what": what, "version": VERSIONS.current + 1, "current": VERSIONS.current},
             f"Instance {iid} was stored in state format {VERSIONS.current + 1}, newer than"),
            ({"state_version": VERSIONS.current, "serializer_version": "9.9"}, "state.other_serializer",
             {"what": what, "version": "9.9", "current": SERIALIZER_VERSION},
             f"Instance {iid} was stored by SpiffWorkflow serializer 9.9")):
        _set(ctx, iid, **columns)
        with pytest.raises(StateVersionUnsupported) as refused:
            complete_task(ctx, task["task_id"], "alice", {})
        assert said(refused) == (code, params)
        assert str(refused.value).startswith(f"流程实例 {iid} ") and refused.value.text("en").startswith(english)
        with pytest.raises(StateVersionUnsupported):
            replay.replay_check(ctx, [iid])
        assert _rows(ctx, iid)["version"] == columns["state_version"]  # nothing was written over it
    _set(ctx, iid, serializer_version=SERIALIZER_VERSION)
    complete_task(ctx, task["task_id"], "alice", {})


def test_migrations_must_run_from_1_without_a_gap():
    with pytest.raises(ValueError):
        StateVersions({1: _values_to_data, 3: _values_to_data})
    assert StateVersions({}).current == 1 and VERSIONS.current == len(MIGRATIONS) + 1
