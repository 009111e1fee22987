"""Tampering with the audit log directly in the database: each edit, deletion, insertion and
reordering is reported with its kind and position, by the chains alone or through an anchor."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import text

from engine.audit import anchors as audit_anchors
from engine.audit import verify as audit_verify
from engine.bpmn.deploy import deploy
from engine.db import chain as audit
from engine.tasks.inbox import group_tasks
from engine.workflow.instances import complete_task, start_instance
from tests.conftest import fixture_files
from tests.helpers import add_user

ROWS = 18  # sequential_8 run to the end: started, 8 x (ready, completed), completed


@pytest.fixture
def two(ctx):
    """Two completed instances of sequential_8 whose steps alternate, so their rows' ids interleave."""
    deploy(ctx, fixture_files("sequential_8.bpmn"), "owner")
    add_user(ctx, "bob", "team")
    a = start_instance(ctx, "sequential_8", "bob", {"title": "A"}, "A").instance_id
    b = start_instance(ctx, "sequential_8", "bob", {"title": "B"}, "B").instance_id
    for _ in range(8):
        for task in group_tasks(ctx, "bob").items:
            complete_task(ctx, task["task_id"], "bob", {f"comment{task['element_id'][-1]}": task["business_key"]})
    assert audit_verify.verify_all(ctx) == {"instances": 2, "problems": []}
    return ctx, a, b


def _sql(ctx, sql: str, **params) -> list:
    with ctx.db.engine.begin() as conn:
        result = conn.execute(text(sql), params)
        return result.fetchall() if result.returns_rows else []


def _row(ctx, instance_id: str, seq: int) -> dict:
    (found,) = _sql(ctx, "SELECT id, seq, event_type, actor, at, element_id, task_id, data, prev_hash, hash "
                         "FROM audit_event WHERE instance_id = :i AND seq = :s", i=instance_id, s=seq)
    return dict(found._mapping)


def _rehash(ctx, instance_id: str, seq: int, data: str, prev_hash: str) -> str:
    """Rewrite row `seq` with new data as someone who knows the hashing would: its hash fits again."""
    row = _row(ctx, instance_id, seq)
    at = audit.ChainEvent(*[row[k] for k in ("id", "seq", "event_type", "actor", "at", "element_id", "task_id",
                                         "data", "prev_hash", "hash")]).at
    from engine.db.tx import Tx
    at = Tx.when(at)
    digest = audit._digest(instance_id, seq, row["event_type"], row["actor"], at, row["element_id"],
                           row["task_id"], data, prev_hash)
    _sql(ctx, "UPDATE audit_event SET data = :d, prev_hash = :p, hash = :h WHERE id = :id",
         d=data, p=prev_hash, h=digest, id=row["id"])
    return digest


def _problems(ctx, instance_id: str | None = None) -> list[tuple]:
    report = audit_verify.verify(ctx, instance_id)
    return [(p["instance_id"], p["kind"], p["position"], p["seq"], p["anchor"]) for p in report["problems"]]


def _set_head(ctx, instance_id: str, seq: int) -> None:
    _sql(ctx, "UPDATE process_instance SET audit_seq = :s, audit_hash = :h WHERE id = :i",
         s=seq, h=_row(ctx, instance_id, seq)["hash"], i=instance_id)


def test_an_edited_row_is_reported_at_its_position(two):
    ctx, a, b = two
    row = _row(ctx, a, 5)
    _sql(ctx, "UPDATE audit_event SET data = :d WHERE id = :id", d=row["data"].replace('"A"', '"Z"'), id=row["id"])
    assert json.loads(_row(ctx, a, 5)["data"]) != json.loads(row["data"])
    assert _problems(ctx) == [(a, "edited", 5, 5, None)]
    problem = audit_verify.verify(ctx, a)["problems"][0]
    assert "row 5 (task_completed) does not match its hash" in problem["detail"]
    assert _problems(ctx, b) == []


def test_an_edited_and_rehashed_row_is_reported_by_its_successor_link(two):
    ctx, a, _ = two
    row = _row(ctx, a, 5)
    _rehash(ctx, a, 5, row["data"].replace('"A"', '"Z"'), row["prev_hash"])
    assert _problems(ctx) == [(a, "edited", 5, 5, None)]
    assert "was rewritten" in audit_verify.verify(ctx)["problems"][0]["detail"]


def test_another_actor_or_time_is_an_edit_too(two):
    ctx, a, _ = two
    _sql(ctx, "UPDATE audit_event SET actor = 'mallory' WHERE instance_id = :i AND seq = 3", i=a)
    _sql(ctx, "UPDATE audit_event SET element_id = 'Step8' WHERE instance_id = :i AND seq = 7", i=a)
    assert _problems(ctx) == [(a, "edited", 3, 3, None), (a, "edited", 7, 7, None)]


def test_a_deleted_row_is_reported_where_it_was(two):
    ctx, a, _ = two
    _sql(ctx, "DELETE FROM audit_event WHERE instance_id = :i AND seq = 5", i=a)
    assert _problems(ctx) == [(a, "deleted", 5, 5, None)]
    assert "row 5 missing before row 6" in audit_verify.verify(ctx)["problems"][0]["detail"]


def test_deleted_last_rows_are_reported_against_the_instance_head(two):
    ctx, a, _ = two
    _sql(ctx, "DELETE FROM audit_event WHERE instance_id = :i AND seq > 16", i=a)
    assert _problems(ctx) == [(a, "deleted", 17, 17, None)]
    assert "rows 17..18 missing at the end" in audit_verify.verify(ctx)["problems"][0]["detail"]


def test_deleted_last_rows_with_the_head_fixed_are_caught_by_the_anchor(two):
    ctx, a, b = two
    anchor = audit_anchors.make_anchor(ctx, "auditor")
    # The two requests' chains and the process's (its deploy).
    assert anchor["chains"] == 3 and anchor["moved"] == 3 and audit_verify.verify(ctx)["problems"] == []
    _sql(ctx, "DELETE FROM audit_event WHERE instance_id = :i AND seq > 16", i=a)
    _set_head(ctx, a, 16)
    assert _problems(ctx) == [(a, "deleted", 17, 17, anchor["id"])]
    assert "rows 17..18 missing (anchor 1 saw row 18)" in audit_verify.verify(ctx)["problems"][0]["detail"]
    state = audit_verify.verification(ctx, a)
    assert state["ok"] is False and state["anchored_seq"] == ROWS and state["anchored_at"] is not None
    assert audit_verify.verification(ctx, b)["ok"] is True


def test_a_truncated_and_rewritten_chain_is_caught_by_the_anchors(two, clock):
    ctx, a, _ = two
    first = audit_anchors.make_anchor(ctx)
    complete_rows = {s: _row(ctx, a, s) for s in range(1, ROWS + 1)}
    # Rewrite rows 10.. with other data, each hash correct and chained, and the head moved along.
    prev = complete_rows[9]["hash"]
    for seq in range(10, ROWS + 1):
        prev = _rehash(ctx, a, seq, complete_rows[seq]["data"].replace('"A"', '"Z"'), prev)
    _set_head(ctx, a, ROWS)
    assert _problems(ctx) == [(a, "edited", ROWS, ROWS, first["id"])]
    assert "rows 1..18 were rewritten since anchor 1 saw row 18" in audit_verify.verify(ctx)["problems"][0]["detail"]


def test_anchors_narrow_a_rewrite_down_to_the_rows_after_the_last_one_that_held(ctx):
    deploy(ctx, fixture_files("sequential_8.bpmn"), "owner")
    add_user(ctx, "bob", "team")
    a = start_instance(ctx, "sequential_8", "bob", {"title": "A"}, "A").instance_id
    for step in range(8):
        if step == 4:
            assert audit_anchors.make_anchor(ctx)["moved"] == 2  # the head at row 10, and the process's chain
        complete_task(ctx, group_tasks(ctx, "bob").items[0]["task_id"], "bob", {f"comment{step + 1}": "A"})
    second = audit_anchors.make_anchor(ctx)
    assert second["moved"] == 1 and second["chains"] == 2
    assert audit_anchors.make_anchor(ctx)["moved"] == 0  # nothing moved: the anchor holds no head rows
    prev = _row(ctx, a, 11)["hash"]
    for seq in range(12, ROWS + 1):
        prev = _rehash(ctx, a, seq, _row(ctx, a, seq)["data"].replace('"A"', '"Z"'), prev)
    _set_head(ctx, a, ROWS)
    assert _problems(ctx) == [(a, "edited", ROWS, ROWS, second["id"])]
    assert "rows 11..18 were rewritten since anchor 2 saw row 18" in audit_verify.verify(ctx)["problems"][0]["detail"]


def test_an_inserted_row_is_reported(two):
    ctx, a, _ = two
    last = _row(ctx, a, ROWS)
    _sql(ctx, "INSERT INTO audit_event (instance_id, seq, event_type, actor, at, element_id, task_id, data, "
              "prev_hash, hash) VALUES (:i, :s, 'task_completed', 'mallory', :at, 'Step1', NULL, '{}', :p, :h)",
         i=a, s=ROWS + 1, at=last["at"], p=last["hash"], h="f" * 64)
    assert _problems(ctx) == [(a, "inserted", ROWS + 1, ROWS + 1, None)]


def test_a_row_replaced_by_a_forged_one_is_reported_as_inserted(two):
    ctx, a, _ = two
    row = _row(ctx, a, 5)
    _sql(ctx, "DELETE FROM audit_event WHERE id = :id", id=row["id"])
    _sql(ctx, "INSERT INTO audit_event (instance_id, seq, event_type, actor, at, element_id, task_id, data, "
              "prev_hash, hash) VALUES (:i, 5, :t, 'mallory', :at, :e, :task, :d, :p, 'x')",
         i=a, t=row["event_type"], at=row["at"], e=row["element_id"], task=row["task_id"], d=row["data"],
         p=row["prev_hash"])
    _rehash(ctx, a, 5, row["data"], row["prev_hash"])  # a correct hash over the forged content
    assert _problems(ctx) == [(a, "inserted", ROWS, 5, None)]  # stored last: it was added last


def test_rows_whose_ids_were_swapped_are_reordered(two):
    ctx, a, _ = two
    five, six = _row(ctx, a, 5)["id"], _row(ctx, a, 6)["id"]
    _sql(ctx, "UPDATE audit_event SET id = :t WHERE id = :x", t=-1, x=five)
    _sql(ctx, "UPDATE audit_event SET id = :x WHERE id = :y", x=five, y=six)
    _sql(ctx, "UPDATE audit_event SET id = :y WHERE id = :t", y=six, t=-1)
    assert _problems(ctx) == [(a, "reordered", 6, 5, None)]
    assert "row 5 (task_completed) is stored at position 6" in audit_verify.verify(ctx)["problems"][0]["detail"]


def test_rows_whose_seqs_were_swapped_are_reordered(two):
    ctx, a, _ = two
    _sql(ctx, "UPDATE audit_event SET seq = -1 WHERE instance_id = :i AND seq = 5", i=a)
    _sql(ctx, "UPDATE audit_event SET seq = 5 WHERE instance_id = :i AND seq = 6", i=a)
    _sql(ctx, "UPDATE audit_event SET seq = 6 WHERE instance_id = :i AND seq = -1", i=a)
    assert _problems(ctx) == [(a, "reordered", 5, 6, None), (a, "reordered", 6, 5, None)]
    assert "row 6 (task_completed) was written as row 5" in audit_verify.verify(ctx)["problems"][0]["detail"]


def test_a_deleted_chain_is_reported_from_its_first_row(two):
    ctx, a, b = two
    _sql(ctx, "DELETE FROM audit_event WHERE instance_id = :i", i=a)
    assert _problems(ctx) == [(a, "deleted", 1, 1, None)]
    assert _problems(ctx, b) == []


def test_a_deleted_instance_is_caught_by_the_anchor(two):
    ctx, a, b = two
    anchor = audit_anchors.make_anchor(ctx)
    for table in ("audit_event", "instance_task", "instance_subprocess", "inbox_task"):
        _sql(ctx, f"DELETE FROM {table} WHERE instance_id = :i", i=a)
    _sql(ctx, "DELETE FROM process_instance WHERE id = :i", i=a)
    assert _problems(ctx) == [(a, "deleted", 1, 1, anchor["id"])]
    assert _problems(ctx, a) == [(a, "deleted", 1, 1, anchor["id"])]
    assert "the instance and its rows 1..18 are gone" in audit_verify.verify(ctx)["problems"][0]["detail"]
    later = audit_anchors.make_anchor(ctx)  # a later anchor does not forget it
    assert later["chains"] == 3
    assert _problems(ctx) == [(a, "deleted", 1, 1, anchor["id"])]
    assert audit_verify.verification(ctx, b)["ok"] is True


def test_tampered_anchors_are_reported(two):
    ctx, a, _ = two
    audit_anchors.make_anchor(ctx)
    audit_anchors.make_anchor(ctx)
    third = audit_anchors.make_anchor(ctx)
    assert audit_verify.verify(ctx)["anchors"] == 3 and audit_verify.verify(ctx)["anchor"]["hash"] == third["hash"]
    _sql(ctx, "UPDATE audit_anchor_head SET seq = 17 WHERE instance_id = :i AND anchor_id = 1", i=a)
    # The head is part of every later anchor's digest; and the chain no longer shows what it names.
    assert _problems(ctx) == [(None, "edited", 1, None, 1), (None, "edited", 2, None, 2),
                              (None, "edited", 3, None, 3), (a, "edited", 17, 17, 1)]
    assert audit_verify.verify(ctx)["problems"][0]["detail"] == "the heads recorded for anchor 1 were changed"
    _sql(ctx, "UPDATE audit_anchor_head SET seq = 18 WHERE instance_id = :i AND anchor_id = 1", i=a)
    assert _problems(ctx) == []
    _sql(ctx, "DELETE FROM audit_anchor WHERE id = 2")
    assert _problems(ctx) == [(None, "deleted", 3, None, 3)]


def test_the_newest_anchor_deleted_or_made_again_is_caught_by_the_witness(two, tmp_path, clock):
    """Deleting the newest anchor leaves nothing in the database to tell; its copy in the witness
    file does, and so does an anchor made again in its place over what was there then."""
    ctx, a, _ = two
    witness = tmp_path / "anchors.jsonl"
    ctx.config.anchor_witness = str(witness)
    audit_anchors.make_anchor(ctx)
    audit_anchors.make_anchor(ctx)
    third = audit_anchors.make_anchor(ctx)
    assert [json.loads(line)["hash"] for line in witness.read_text().splitlines()][-1] == third["hash"]
    assert audit_verify.verify(ctx)["witnessed"] == 3 and _problems(ctx) == []
    _sql(ctx, "DELETE FROM audit_anchor_head WHERE anchor_id = 3")
    _sql(ctx, "DELETE FROM audit_anchor WHERE id = 3")
    ctx.config.anchor_witness = None
    assert _problems(ctx) == []  # the anchors left are whole: no sign of the third
    assert [(p["kind"], p["position"]) for p in audit_verify.verify(ctx, witness=str(witness))["problems"]] == [
        ("deleted", 3)]
    clock.advance(minutes=1)
    remade = audit_anchors.make_anchor(ctx)  # anchor 3 again, not written to the witness
    assert remade["id"] == 3 and remade["hash"] != third["hash"]
    ctx.config.anchor_witness = str(witness)
    assert _problems(ctx) == [(None, "edited", 3, None, 3)]
    assert audit_verify.verify(ctx)["problems"][0]["detail"] == "anchor 3 differs from the witness's copy"
    assert audit_verify.verify_and_record(ctx)["anchors_ok"] is False  # the nightly check records it too
    witness.write_text("not json\n")
    assert [p["detail"] for p in audit_verify.verify(ctx)["problems"]] == [
        f"line 1 of the witness {witness} is not an anchor's copy",
        f"the witness {witness} holds none of the 3 anchor(s)"]


def test_verification_of_one_request(two):
    ctx, a, _ = two
    state = audit_verify.verification(ctx, a)
    assert state == {"ok": True, "problems": [], "events": ROWS, "anchored_at": None, "anchored_seq": None,
                     "checked_at": ctx.now().isoformat()}
    audit_anchors.make_anchor(ctx)
    state = audit_verify.verification(ctx, a)
    assert state["ok"] is True and state["anchored_seq"] == ROWS and state["anchored_at"] == ctx.now().isoformat()


# ------------------------------------------------------------------------------ process chains

def _process_row(ctx, seq: int) -> dict:
    return _row(ctx, audit.process_chain_id("sequential_8"), seq)


def _redeploys(ctx, times: int) -> None:
    for _ in range(times):  # identical content: the version is kept, the deploy is recorded all the same
        assert deploy(ctx, fixture_files("sequential_8.bpmn"), "owner2")[0].created is False


def test_a_deploy_is_recorded_on_the_process_chain(two):
    ctx, *_ = two
    _redeploys(ctx, 1)
    chain = audit.process_chain_id("sequential_8")
    events = audit.process_events(ctx, "sequential_8")
    assert [(e["seq"], e["type"], e["actor"], e["data"]["created"], e["data"]["version"]) for e in events] == [
        (2, "process_deployed", "owner2", False, 1), (1, "process_deployed", "owner", True, 1)]
    first = events[1]["data"]
    assert first["content_hash"] and first["files"] == [
        {"filename": "sequential_8.bpmn", "sha256": first["files"][0]["sha256"]}]
    assert first["deployment"] == [{"process_id": "sequential_8", "version": 1, "created": True}]
    report = audit_verify.verify(ctx)
    assert report["processes"] == 1 and report["problems"] == []
    assert audit_verify.verify(ctx, chain)["problems"] == []


def test_editing_deleting_inserting_or_reordering_a_process_row_is_reported_with_its_position(two):
    ctx, *_ = two
    _redeploys(ctx, 3)  # rows 1..4
    chain = audit.process_chain_id("sequential_8")
    second = _process_row(ctx, 2)
    _sql(ctx, "UPDATE audit_event SET actor = 'mallory' WHERE id = :id", id=second["id"])
    assert _problems(ctx) == [(chain, "edited", 2, 2, None)]
    assert audit_verify.verify(ctx)["problems"][0]["process_id"] == "sequential_8"
    _sql(ctx, "UPDATE audit_event SET actor = 'owner2' WHERE id = :id", id=second["id"])
    assert _problems(ctx) == []
    third, fourth = _process_row(ctx, 3), _process_row(ctx, 4)
    _sql(ctx, "UPDATE audit_event SET seq = -1 WHERE id = :id", id=third["id"])
    _sql(ctx, "UPDATE audit_event SET seq = 3 WHERE id = :id", id=fourth["id"])
    _sql(ctx, "UPDATE audit_event SET seq = 4 WHERE id = :id", id=third["id"])
    assert [k for _, k, *_ in _problems(ctx)] == ["reordered", "reordered"]
    _sql(ctx, "UPDATE audit_event SET seq = -1 WHERE id = :id", id=third["id"])
    _sql(ctx, "UPDATE audit_event SET seq = 4 WHERE id = :id", id=fourth["id"])
    _sql(ctx, "UPDATE audit_event SET seq = 3 WHERE id = :id", id=third["id"])
    assert _problems(ctx) == []
    _sql(ctx, "DELETE FROM audit_event WHERE id = :id", id=second["id"])
    assert _problems(ctx) == [(chain, "deleted", 2, 2, None)]
    _sql(ctx, "INSERT INTO audit_event (id, instance_id, seq, event_type, actor, at, element_id, task_id, data, "
              "prev_hash, hash) VALUES (:id, :i, 2, 'process_deployed', 'mallory', :at, NULL, NULL, '{}', :p, :h)",
         id=second["id"], i=chain, at=second["at"], p=second["prev_hash"], h=second["hash"])
    assert _problems(ctx) == [(chain, "edited", 2, 2, None)]


def test_anchors_cover_the_process_chains(two):
    ctx, *_ = two
    _redeploys(ctx, 2)
    chain = audit.process_chain_id("sequential_8")
    anchor = audit_anchors.make_anchor(ctx)
    _sql(ctx, "DELETE FROM audit_event WHERE instance_id = :i AND seq = 3", i=chain)
    _sql(ctx, "UPDATE process_chain SET audit_seq = 2, audit_hash = :h WHERE id = :i",
         h=_process_row(ctx, 2)["hash"], i=chain)
    assert _problems(ctx) == [(chain, "deleted", 3, 3, anchor["id"])]
    _sql(ctx, "DELETE FROM audit_event WHERE instance_id = :i", i=chain)
    _sql(ctx, "DELETE FROM process_chain WHERE id = :i", i=chain)
    assert _problems(ctx) == [(chain, "deleted", 1, 1, anchor["id"])]


# ------------------------------------------------------------------------------ recorded verification

def test_verify_and_record_stores_each_chains_result(two, clock):
    ctx, a, b = two
    audit_anchors.make_anchor(ctx)
    chain = audit.process_chain_id("sequential_8")
    summary = audit_verify.verify_and_record(ctx)
    assert summary["chains"] == 3 and summary["failed"] == [] and summary["anchors_ok"] is True
    found = audit_verify.recorded(ctx, [a, b, chain])
    assert {c: (r["ok"], r["events"], r["checked_at"]) for c, r in found.items()} == {
        a: (True, ROWS, clock.now), b: (True, ROWS, clock.now), chain: (True, 1, clock.now)}
    assert audit_verify.anchors_recorded(ctx)["ok"] is True
    _sql(ctx, "UPDATE audit_event SET actor = 'mallory' WHERE instance_id = :i AND seq = 3", i=a)
    clock.advance(hours=1)
    summary = audit_verify.verify_and_record(ctx)
    assert summary["failed"] == [a] and summary["problems"] == 1
    mine = audit_verify.recorded(ctx, [a])[a]
    assert mine["ok"] is False and mine["checked_at"] == clock.now
    assert [(p["kind"], p["position"]) for p in mine["problems"]] == [("edited", 3)]
    # One chain on its own (the "verify now" of a request), the others keep their result.
    _sql(ctx, "UPDATE audit_event SET actor = 'bob' WHERE instance_id = :i AND seq = 3", i=a)
    clock.advance(minutes=5)
    assert audit_verify.verify_and_record(ctx, chain_ids=[a])["failed"] == []
    found = audit_verify.recorded(ctx, [a, b])
    assert found[a]["ok"] is True and found[a]["checked_at"] == clock.now
    assert found[b]["checked_at"] == clock.now - timedelta(minutes=5)


def test_verify_next_checks_a_bounded_number_of_chains_then_the_anchors(two, clock):
    ctx, a, b = two
    start = clock.now
    first = audit_verify.verify_next(ctx, start, limit=2)
    assert (first["checked"], first["remaining"], first["done"]) == (2, 1, False)
    second = audit_verify.verify_next(ctx, start, limit=2)
    assert (second["checked"], second["remaining"], second["done"]) == (1, 0, False)
    third = audit_verify.verify_next(ctx, start, limit=2)
    assert (third["checked"], third["done"], third["anchors_ok"]) == (0, True, True)
    assert audit_verify.verify_next(ctx, start, limit=2) == {"checked": 0, "remaining": 0, "done": True, "failed": []}
    assert set(audit_verify.recorded(ctx, [a, b, audit.process_chain_id("sequential_8")])) == {
        a, b, audit.process_chain_id("sequential_8")}
