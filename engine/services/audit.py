"""The audit log: append-only rows chained by hash per instance, written with the change."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.db.models import AuditEvent, ProcessInstance
from engine.db.tx import Tx
from engine.errors import NotFound, StaleInstance
from engine.store import InstanceRow

GENESIS = "0" * 64
_CANONICAL = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_PAYLOAD = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=str).encode


def _digest(instance_id: str, seq: int, event_type: str, actor: str, at: datetime | str,
            element_id: str | None, task_id: str | None, data: str, prev_hash: str) -> str:
    """The row's hash; `at` as a UTC datetime or already in its hashed form (see _hashed_time)."""
    when = at if isinstance(at, str) else at.isoformat(timespec="microseconds")
    canonical = _CANONICAL([instance_id, seq, event_type, actor, when, element_id, task_id, data, prev_hash])
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _hashed_time(value) -> str:
    """A stored `at` as the hash reads it: "YYYY-MM-DDTHH:MM:SS.ffffff+00:00". SQLite's text (always
    written with microseconds) is rearranged without parsing; anything else goes through datetime."""
    if isinstance(value, str) and len(value) == 26 and value[10] == " " and value[19] == ".":
        return f"{value[:10]}T{value[11:]}+00:00"
    return Tx.when(value).isoformat(timespec="microseconds")


_INSERT = ("INSERT INTO audit_event (instance_id, seq, event_type, actor, at, element_id, task_id, data, "
           "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


def record(tx: Tx, instance: InstanceRow, event_type: str, actor: str, at: datetime,
           element_id: str | None = None, task_id: str | None = None, data: dict | None = None) -> str:
    """Append one event to the instance's chain, in the caller's transaction; its hash."""
    seq = (instance.audit_seq or 0) + 1
    prev = instance.audit_hash or GENESIS
    payload = _PAYLOAD(data or {})
    at = at.astimezone(UTC)  # stored and hashed as UTC, as it reads back
    digest = _digest(instance.id, seq, event_type, actor, at, element_id, task_id, payload, prev)
    tx.queue(_INSERT, (instance.id, seq, event_type, actor, tx.stamp(at), element_id, task_id, payload, prev,
                       digest))
    instance.audit_seq = seq
    instance.audit_hash = digest
    return digest


@dataclass
class ChainHead:
    """What a change beside the workflow (a record of the request) reads of its instance's row."""

    id: str
    business_key: str | None
    initiator: str
    status: str
    audit_seq: int
    audit_hash: str


def lock_chain(tx: Tx, instance_id: str) -> ChainHead:
    """Hold the instance's row for this transaction and read the head of its chain.

    FOR UPDATE on PostgreSQL queues this writer behind any command on the instance; a SQLite
    writer holds the database's write lock already (BEGIN IMMEDIATE).
    """
    sql = ("SELECT id, business_key, initiator, status, audit_seq, audit_hash FROM process_instance WHERE id = ?"
           + (" FOR UPDATE" if tx.postgres else ""))
    found = tx.one(sql, (instance_id,))
    if found is None:
        raise NotFound(f"instance {instance_id} does not exist")
    return ChainHead(*found)


def append(tx: Tx, head: ChainHead, event_type: str, actor: str, at: datetime, element_id: str | None = None,
           task_id: str | None = None, data: dict | None = None) -> str:
    """Append one event and move the row's chain head, leaving lock_version alone; its hash.

    The workflow did not change, so the copy cached under the current lock_version stays valid;
    the next command reads the moved head under its own lock and chains on from it.
    """
    before = head.audit_seq or 0
    digest = record(tx, head, event_type, actor, at, element_id, task_id, data)  # reads id and the head only
    changed = tx.run("UPDATE process_instance SET audit_seq = ?, audit_hash = ? WHERE id = ? AND audit_seq = ?",
                     (head.audit_seq, head.audit_hash, head.id, before))
    if changed != 1:  # only if the row was not locked through lock_chain
        raise StaleInstance(f"instance {head.id} was changed by someone else; reload and retry")
    return digest


@dataclass(frozen=True)
class ChainProblem:
    instance_id: str | None  # None for a problem of the anchors themselves
    position: int  # 1-based position in the stored order (by id); for an anchor, its id
    seq: int | None
    kind: str  # edited | deleted | inserted | reordered
    detail: str
    anchor: int | None = None  # the anchor whose recorded head showed the problem

    def to_dict(self) -> dict:
        return self.__dict__.copy()


@dataclass
class _Event:
    """An audit_event row as verification reads it."""

    id: int
    seq: int
    event_type: str
    actor: str
    at: datetime | str  # a datetime, or as _hashed_time gives it
    element_id: str | None
    task_id: str | None
    data: str
    prev_hash: str
    hash: str


def _written_as(instance_id: str, row: _Event, seq: int) -> bool:
    return _digest(instance_id, seq, row.event_type, row.actor, row.at, row.element_id, row.task_id, row.data,
                   row.prev_hash) == row.hash


def _ordered_subset(ids: list[int]) -> set[int]:
    """Indexes of a longest increasing subsequence of `ids`: the rows that stand in order."""
    tails: list[int] = []  # index of the smallest tail of each length
    back = [-1] * len(ids)
    for i, value in enumerate(ids):
        lo, hi = 0, len(tails)
        while lo < hi:
            mid = (lo + hi) // 2
            if ids[tails[mid]] < value:
                lo = mid + 1
            else:
                hi = mid
        back[i] = tails[lo - 1] if lo else -1
        if lo == len(tails):
            tails.append(i)
        else:
            tails[lo] = i
    keep, i = set(), tails[-1] if tails else -1
    while i >= 0:
        keep.add(i)
        i = back[i]
    return keep


def check_chain(instance_id: str, head_seq: int, head_hash: str | None, rows: list[_Event]) -> list[ChainProblem]:
    """The problems of one chain, `rows` in stored order (by id), against the instance's head.

    Each tampered row is reported once, with its position in the stored order: a row whose hash no
    longer matches its content is edited (reordered if only its seq was changed); a seq that is
    missing is deleted (at the position where it belongs); a row beyond the instance's head, or a
    second row with a seq, is inserted; rows whose stored order differs from their seq order are
    reordered; a row whose successor was chained to a different hash was rewritten (edited).
    """
    problems: dict[int, ChainProblem] = {}  # by position; one problem per row
    position = {row.id: pos for pos, row in enumerate(rows, start=1)}

    def report(pos: int, seq: int | None, kind: str, detail: str) -> None:
        problems.setdefault(pos, ChainProblem(instance_id, pos, seq, kind, detail))

    for pos, row in enumerate(rows, start=1):
        if row.seq > head_seq or _written_as(instance_id, row, row.seq):  # beyond the head: inserted, below
            continue
        written = pos if _written_as(instance_id, row, pos) else None
        if written is None:  # renumbered rows elsewhere in the chain: try the seqs around it
            written = next((s for s in (row.seq - 1, row.seq + 1) if s > 0 and _written_as(instance_id, row, s)),
                           None)
        if written is not None:
            report(pos, row.seq, "reordered", f"row {row.seq} ({row.event_type}) was written as row {written}")
        else:
            report(pos, row.seq, "edited", f"row {row.seq} ({row.event_type}) does not match its hash")
    by_seq = sorted(rows, key=lambda r: (r.seq, r.id))
    in_order = _ordered_subset([r.id for r in by_seq])
    for i, row in enumerate(by_seq):
        if i not in in_order:
            pos = position[row.id]
            before = by_seq[i - 1].hash if i else GENESIS
            after = by_seq[i + 1].prev_hash if i + 1 < len(by_seq) else head_hash
            if row.prev_hash == before and row.hash == after:  # a genuine row, stored out of its place
                report(pos, row.seq, "reordered", f"row {row.seq} ({row.event_type}) is stored at position "
                                                  f"{pos}, out of its order")
            else:  # not part of the chain its neighbours form
                report(pos, row.seq, "inserted", f"row {row.seq} ({row.event_type}) at position {pos} was "
                                                 f"added later: the chain does not lead through it")
    expected, prev, prev_row = 1, GENESIS, None
    for row in by_seq:
        pos = position[row.id]
        if row.seq < expected:
            report(pos, row.seq, "inserted", f"a second row {row.seq} ({row.event_type})")
            continue
        if row.seq > expected:
            missing = f"row {expected}" if row.seq == expected + 1 else f"rows {expected}..{row.seq - 1}"
            report(pos, expected, "deleted", f"{missing} missing before row {row.seq}")
        elif row.prev_hash != prev and pos not in problems and (prev_row is None
                                                                  or position[prev_row.id] not in problems):
            if row.seq > head_seq:
                pass  # beyond the head: reported as inserted below
            elif prev_row is None:
                report(pos, row.seq, "edited", f"row {row.seq} does not start the chain")
            else:
                report(position[prev_row.id], prev_row.seq, "edited",
                       f"row {prev_row.seq} ({prev_row.event_type}) was rewritten: row {row.seq} was chained to "
                       f"another row {prev_row.seq}")
        expected, prev, prev_row = row.seq + 1, row.hash, row
    last = by_seq[-1].seq if by_seq else 0
    if last < head_seq:
        missing = f"row {head_seq}" if last + 1 == head_seq else f"rows {last + 1}..{head_seq}"
        report(len(rows) + 1, last + 1, "deleted", f"{missing} missing at the end (the instance's head is row "
                                                   f"{head_seq})")
    elif last > head_seq:
        for row in by_seq:
            if row.seq > head_seq:
                report(position[row.id], row.seq, "inserted", f"row {row.seq} ({row.event_type}) stands beyond "
                                                              f"the instance's head (row {head_seq})")
    elif by_seq and head_hash != by_seq[-1].hash:
        report(position[by_seq[-1].id], last, "edited", f"row {last} ({by_seq[-1].event_type}) is not the row the "
                                                        f"instance's head names")
    return [problems[pos] for pos in sorted(problems)]


def verify_chain(session: Session, instance: ProcessInstance) -> list[ChainProblem]:
    """Check one instance's chain: every edited, deleted, inserted or reordered row is reported."""
    rows = session.execute(select(AuditEvent.id, AuditEvent.seq, AuditEvent.event_type, AuditEvent.actor,
                                  AuditEvent.at, AuditEvent.element_id, AuditEvent.task_id, AuditEvent.data,
                                  AuditEvent.prev_hash, AuditEvent.hash)
                           .where(AuditEvent.instance_id == instance.id).order_by(AuditEvent.id)).all()
    return check_chain(instance.id, instance.audit_seq or 0, instance.audit_hash, [_Event(*r) for r in rows])


# ---------------------------------------------------------------------------------- anchors
# An anchor hashes the head (instance, seq, hash) of every chain together with the previous anchor.
# It stores only the heads that moved since the previous anchor (audit_anchor_head), so an anchor
# costs one row per changed instance; verification rebuilds every anchor's full set of heads.
# A chain may grow after an anchor; it may not lose or change a row an anchor has seen.

def _heads_digest(heads: dict[str, tuple[int, str]]) -> str:
    h = hashlib.sha256()
    for instance_id in sorted(heads):
        seq, digest = heads[instance_id]
        h.update(f"{instance_id}:{seq}:{digest};".encode())
    return h.hexdigest()


def _anchor_digest(anchor_id: int, at: datetime, made_by: str, chains: int, heads_digest: str, prev: str) -> str:
    canonical = _CANONICAL([anchor_id, at.isoformat(timespec="microseconds"), made_by, chains, heads_digest, prev])
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass
class Anchor:
    id: int
    at: datetime
    made_by: str
    chains: int
    heads_digest: str
    prev_hash: str
    hash: str
    heads: dict[str, tuple[int, str]]  # every chain's head as of this anchor (rebuilt)
    history: dict[str, list[tuple[int, int, str]]]  # instance -> (anchor id, seq, hash) up to this anchor

    def to_dict(self) -> dict:
        return {"id": self.id, "at": self.at.isoformat(), "made_by": self.made_by, "chains": self.chains,
                "hash": self.hash}


def _anchors(tx: Tx) -> list[Anchor]:
    """Every anchor, oldest first, each with the full set of heads it covers."""
    anchors = [Anchor(a, Tx.when(at), by, n, hd, prev, h, {}, {}) for a, at, by, n, hd, prev, h in tx.all(
        "SELECT id, at, made_by, chains, heads_digest, prev_hash, hash FROM audit_anchor ORDER BY id")]
    moved: dict[int, list[tuple[str, int, str]]] = {}
    for anchor_id, instance_id, seq, digest in tx.all(
            "SELECT anchor_id, instance_id, seq, hash FROM audit_anchor_head ORDER BY anchor_id"):
        moved.setdefault(anchor_id, []).append((instance_id, seq, digest))
    heads: dict[str, tuple[int, str]] = {}
    history: dict[str, list[tuple[int, int, str]]] = {}
    for anchor in anchors:
        for instance_id, seq, digest in moved.pop(anchor.id, []):
            heads[instance_id] = (seq, digest)
            history.setdefault(instance_id, []).append((anchor.id, seq, digest))
        anchor.heads = dict(heads)
        anchor.history = history  # shared: the last anchor's view is the one checked against the chains
    return anchors


def make_anchor(ctx, made_by: str = "system") -> dict:
    """Anchor the current head of every chain: one row, plus one per chain that moved since the last."""
    now = ctx.now().astimezone(UTC)
    with ctx.db.transaction() as tx:
        if tx.postgres:  # one anchor at a time, so each chains on the one before
            tx.run("LOCK TABLE audit_anchor IN EXCLUSIVE MODE")
        last = tx.one("SELECT id, hash FROM audit_anchor ORDER BY id DESC LIMIT 1")
        anchored: dict[str, tuple[int, str]] = {}
        for instance_id, seq, digest in tx.all(
                "SELECT instance_id, seq, hash FROM audit_anchor_head ORDER BY anchor_id"):
            anchored[instance_id] = (seq, digest)
        heads = {i: (seq or 0, digest or GENESIS) for i, seq, digest in tx.all(
            "SELECT id, audit_seq, audit_hash FROM process_instance")}
        # An instance that vanished keeps its last anchored head in the digest: it must not vanish.
        covered = {**anchored, **heads}
        moved = {i: h for i, h in heads.items() if anchored.get(i) != h}
        anchor_id = (last[0] if last else 0) + 1
        prev = last[1] if last else GENESIS
        digest = _heads_digest(covered)
        own = _anchor_digest(anchor_id, now, made_by, len(covered), digest, prev)
        tx.run("INSERT INTO audit_anchor (id, at, made_by, chains, heads_digest, prev_hash, hash) "
               "VALUES (?, ?, ?, ?, ?, ?, ?)", (anchor_id, tx.stamp(now), made_by, len(covered), digest, prev, own))
        tx.many("INSERT INTO audit_anchor_head (instance_id, anchor_id, seq, hash) VALUES (?, ?, ?, ?)",
                [(i, anchor_id, seq, h) for i, (seq, h) in sorted(moved.items())])
    return {"id": anchor_id, "at": now.isoformat(), "chains": len(covered), "moved": len(moved), "hash": own}


def _check_anchors(anchors: list[Anchor]) -> list[ChainProblem]:
    """Each anchor must hash to itself and chain on the one before."""
    problems = []
    prev, prev_id = GENESIS, 0
    for anchor in anchors:
        if anchor.id != prev_id + 1:
            problems.append(ChainProblem(None, anchor.id, None, "deleted",
                                         f"anchors {prev_id + 1}..{anchor.id - 1} are missing", anchor.id))
        elif anchor.prev_hash != prev:
            problems.append(ChainProblem(None, anchor.id, None, "edited",
                                         f"anchor {anchor.id} does not follow anchor {prev_id}", anchor.id))
        digest = _heads_digest(anchor.heads)
        if digest != anchor.heads_digest or len(anchor.heads) != anchor.chains:
            problems.append(ChainProblem(None, anchor.id, None, "edited",
                                         f"the heads recorded for anchor {anchor.id} were changed", anchor.id))
        elif _anchor_digest(anchor.id, anchor.at, anchor.made_by, anchor.chains, anchor.heads_digest,
                            anchor.prev_hash) != anchor.hash:
            problems.append(ChainProblem(None, anchor.id, None, "edited",
                                         f"anchor {anchor.id} does not match its hash", anchor.id))
        prev, prev_id = anchor.hash, anchor.id
    return problems


def check_anchored(instance_id: str, rows: list[_Event] | None, history: list[tuple[int, int, str]]
                   ) -> ChainProblem | None:
    """Does the chain still hold every head the anchors saw? `rows` None: the instance is gone."""
    if not history:
        return None
    anchor_id, seq, _digest_ = history[-1]
    if rows is None:
        return ChainProblem(instance_id, 1, 1, "deleted", f"the instance and its rows 1..{seq} are gone "
                                                          f"(anchor {anchor_id} saw them)", anchor_id)
    hashes = {r.seq: r.hash for r in rows}
    if seq not in hashes:
        last = max((s for s in hashes if s < seq), default=0)
        missing = f"row {seq}" if last + 1 == seq else f"rows {last + 1}..{seq}"
        return ChainProblem(instance_id, sum(1 for r in rows if r.seq <= last) + 1, last + 1,
                            "deleted", f"{missing} missing (anchor {anchor_id} saw row {seq})", anchor_id)
    for a_id, a_seq, a_digest in history:  # the first anchored head that changed
        if hashes.get(a_seq) != a_digest:
            kept = max((s for _, s, d in history if s < a_seq and hashes.get(s) == d), default=0)
            position = next((pos for pos, r in enumerate(rows, start=1) if r.seq == a_seq), len(rows))
            return ChainProblem(instance_id, position, a_seq, "edited",
                                f"rows {kept + 1}..{a_seq} were rewritten since anchor {a_id} saw row {a_seq}", a_id)
    return None


# ---------------------------------------------------------------------------------- verification
_EVENTS = ("SELECT instance_id, id, seq, event_type, actor, at, element_id, task_id, data, prev_hash, hash "
           "FROM audit_event WHERE instance_id IN ({}) ORDER BY instance_id, seq")
BATCH = 500


def _chains(tx: Tx, ids: list[str]) -> dict[str, list[_Event]]:
    """The rows of the chains of `ids`, each in stored order (by id)."""
    found: dict[str, list[_Event]] = {i: [] for i in ids}
    for instance_id, *values in tx.all(_EVENTS.format(tx.in_list(ids)), ids):
        values[4] = _hashed_time(values[4])
        found[instance_id].append(_Event(*values))
    for rows in found.values():
        rows.sort(key=lambda r: r.id)
    return found


def verify(ctx, instance_id: str | None = None, progress=None) -> dict:
    """Verify every chain (or one) and the anchors: {instances, problems, anchors, anchored_at}.

    `progress(done, total)`, if given, is called after each batch of instances.
    """
    with ctx.db.transaction(write=False) as tx:
        sql = "SELECT id, audit_seq, audit_hash FROM process_instance"
        instances = tx.all(sql + " WHERE id = ?", (instance_id,)) if instance_id else tx.all(sql + " ORDER BY id")
        if instance_id and not instances and not tx.one(
                "SELECT 1 FROM audit_anchor_head WHERE instance_id = ?", (instance_id,)):
            raise NotFound(f"instance {instance_id} does not exist")
        if instance_id:  # one request's page: its own anchored heads only (by the primary key)
            anchors = []
            count, latest = tx.one("SELECT count(*) FROM audit_anchor")[0], _latest_anchor(tx)
            own = tx.all("SELECT anchor_id, seq, hash FROM audit_anchor_head WHERE instance_id = ? "
                         "ORDER BY anchor_id", (instance_id,))
            history = {instance_id: [tuple(h) for h in own]} if own else {}
        else:
            anchors = _anchors(tx)
            count, latest = len(anchors), anchors[-1] if anchors else None
            history = latest.history if latest else {}
        problems: list[ChainProblem] = [] if instance_id else _check_anchors(anchors)
        present = set()
        for start in range(0, len(instances), BATCH):
            batch = instances[start:start + BATCH]
            chains = _chains(tx, [i for i, _, _ in batch])
            for iid, seq, digest in batch:
                present.add(iid)
                rows = chains[iid]
                found = check_chain(iid, seq or 0, digest, rows)
                anchored = check_anchored(iid, rows, history.get(iid, []))
                if anchored is not None and (anchored.position, anchored.kind) not in {
                        (p.position, p.kind) for p in found}:  # the chain alone showed it already
                    found.append(anchored)
                problems += found
            if progress is not None:
                progress(min(start + BATCH, len(instances)), len(instances))
        gone = [i for i in history if i not in present and (instance_id is None or i == instance_id)]
        for iid in sorted(gone):
            rows = _chains(tx, [iid])[iid]
            problems.append(check_anchored(iid, rows or None, history[iid]) or ChainProblem(
                iid, 1, None, "deleted", "the instance is gone", history[iid][-1][0]))
    # Every later anchor covers a head it once saw (its digest holds every chain's head).
    covered = latest is not None and (instance_id is None or instance_id in history)
    return {"instances": len(instances) + len(gone), "problems": [p.to_dict() for p in problems],
            "anchors": count, "anchored_at": latest.at.isoformat() if covered else None,
            "anchor": latest.to_dict() if latest else None}


def _latest_anchor(tx: Tx) -> Anchor | None:
    found = tx.one("SELECT id, at, made_by, chains, heads_digest, prev_hash, hash FROM audit_anchor "
                   "ORDER BY id DESC LIMIT 1")
    if found is None:
        return None
    anchor_id, at, by, n, hd, prev, h = found
    return Anchor(anchor_id, Tx.when(at), by, n, hd, prev, h, {}, {})


def verify_all(ctx, instance_id: str | None = None) -> dict:
    """Verify the chain of one instance or of every instance (and the anchors): {instances, problems}."""
    report = verify(ctx, instance_id)
    return {"instances": report["instances"], "problems": report["problems"]}


def verification(ctx, instance_id: str) -> dict:
    """One request's verification state, for its page: whether its chain and its anchored head hold.

    {"ok", "problems" (as verify gives them), "events" (rows its head counts), "anchored_at" (the time of
    the latest anchor, which covers every head an anchor saw; None before the request was first
    anchored), "anchored_seq" (the last row of its chain an anchor saw), "checked_at"}.
    """
    report = verify(ctx, instance_id)
    with ctx.db.transaction(write=False) as tx:
        found = tx.one("SELECT audit_seq FROM process_instance WHERE id = ?", (instance_id,))
        seen = tx.one("SELECT h.seq FROM audit_anchor_head h WHERE h.instance_id = ? ORDER BY h.anchor_id DESC "
                      "LIMIT 1", (instance_id,))
    return {"ok": not report["problems"], "problems": report["problems"], "events": found[0] if found else 0,
            "anchored_at": report["anchored_at"], "anchored_seq": seen[0] if seen else None,
            "checked_at": ctx.now().isoformat()}
