"""The audit log: append-only rows chained by hash, written with the change they record.

Each request (process instance) has its own chain; so has each process, for what changes the
process itself: every deploy of its versions and every migration of its running requests
(`process_chain`, whose rows are audit_event rows under the chain's id, a uuid5 of the process id);
and so has each account, for its sign-ins, failed attempts, locks and unlocks (`account_chain`).
Anchors hash the heads of all chains together; verification checks every chain and the anchors.

For the background runner: `make_anchor(ctx)` hourly, `verify_and_record(ctx)` nightly (it stores
each chain's result in audit_verification, which the audit area shows instead of verifying again).
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import dataclass, replace
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


# ---------------------------------------------------------------------------------- process chains
_PROCESS_CHAINS = uuid.UUID("6f1d3c2e-58a4-5b7e-9c1a-3d2f4e5a6b7c")
PROCESS_EVENTS = ("process_deployed", "instance_migrated", "instances_migrated")


def process_chain_id(process_id: str) -> str:
    """The id of a process's chain (its rows' instance_id in audit_event)."""
    return str(uuid.uuid5(_PROCESS_CHAINS, f"process:{process_id}"))


@dataclass
class ProcessHead:
    """The head of a process's chain, held for the caller's transaction."""

    id: str
    process_id: str
    audit_seq: int
    audit_hash: str


def lock_process_chain(tx: Tx, process_id: str) -> ProcessHead:
    """Hold the process's chain head for this transaction (made on the process's first event)."""
    return ProcessHead(*_lock_head(tx, "process_chain", "process_id", process_chain_id(process_id), process_id))


def _lock_head(tx: Tx, table: str, owner: str, chain: str, key: str | None) -> tuple:
    """Make the chain's head row if it is new and hold it for this transaction: (id, owner, seq, hash)."""
    tx.run(f"INSERT INTO {table} (id, {owner}, audit_seq, audit_hash) VALUES (?, ?, 0, ?) "
           "ON CONFLICT (id) DO NOTHING", (chain, key, GENESIS))
    return tx.one(f"SELECT id, {owner}, audit_seq, audit_hash FROM {table} WHERE id = ?"
                  + (" FOR UPDATE" if tx.postgres else ""), (chain,))


def _append_head(tx: Tx, table: str, head, event_type: str, actor: str, at: datetime, data: dict | None) -> int:
    """Append one event to a chain whose head lives in `table`, in the caller's transaction; its seq."""
    before = head.audit_seq or 0
    record(tx, head, event_type, actor, at, None, None, data)
    changed = tx.run(f"UPDATE {table} SET audit_seq = ?, audit_hash = ? WHERE id = ? AND audit_seq = ?",
                     (head.audit_seq, head.audit_hash, head.id, before))
    if changed != 1:
        raise StaleInstance(f"the audit chain {head.id} was changed by someone else; retry")
    return head.audit_seq


def append_process(tx: Tx, head: ProcessHead, event_type: str, actor: str, at: datetime,
                   data: dict | None = None) -> int:
    """Append one event to a process's chain in the caller's transaction; its position (seq)."""
    return _append_head(tx, "process_chain", head, event_type, actor, at, data)


# ---------------------------------------------------------------------------------- account chains
# Each account's sign-ins, failed attempts, locks and unlocks, on a chain of its own (its head in
# account_chain), so a busy account never waits on another's; names that are no account share one.
_ACCOUNT_CHAINS = uuid.UUID("2b7e4c1d-9a35-5f08-8d6e-1c4b7a2e9f30")


def account_chain_id(user_id: str | None) -> str:
    """The id of an account's chain (None: the chain of names that are no account)."""
    return str(uuid.uuid5(_ACCOUNT_CHAINS, f"account:{user_id or ''}"))


@dataclass
class AccountHead:
    """The head of an account's chain, held for the caller's transaction."""

    id: str
    user_id: str | None
    audit_seq: int
    audit_hash: str


def lock_account_chain(tx: Tx, user_id: str | None) -> AccountHead:
    """Hold the account's chain head for this transaction (made on the account's first event): the
    account's sign-in attempts run one after another."""
    return AccountHead(*_lock_head(tx, "account_chain", "user_id", account_chain_id(user_id), user_id))


def append_account(tx: Tx, head: AccountHead, event_type: str, actor: str, at: datetime,
                   data: dict | None = None) -> int:
    """Append one event to an account's chain in the caller's transaction; its position (seq)."""
    return _append_head(tx, "account_chain", head, event_type, actor, at, data)


def session_tx(session: Session) -> Tx:
    """A Tx on an ORM session's own connection and transaction (deploys use the ORM); flush() it
    before the session commits."""
    conn = session.connection()
    return Tx(conn.connection.dbapi_connection.cursor(), conn.dialect.name == "postgresql",
              conn.dialect.loaded_dbapi.IntegrityError)


def process_events(ctx, process_id: str | None = None) -> list[dict]:
    """The events of every process's chain (or one's), newest first: {process_id, chain_id, seq,
    type, actor, at, data}."""
    with ctx.db.transaction(write=False) as tx:
        chains = dict(tx.all("SELECT id, process_id FROM process_chain" + (" WHERE process_id = ?" if process_id
                                                                            else ""),
                             (process_id,) if process_id else ()))
        if not chains:
            return []
        ids = list(chains)
        rows = tx.all("SELECT instance_id, seq, event_type, actor, at, data FROM audit_event "
                      f"WHERE instance_id IN ({tx.in_list(ids)})", ids)
    found = [{"process_id": chains[c], "chain_id": c, "seq": seq, "type": kind, "actor": actor, "at": Tx.when(at),
              "data": json.loads(data)} for c, seq, kind, actor, at, data in rows]
    return sorted(found, key=lambda e: (e["at"], e["process_id"], e["seq"]), reverse=True)


# ---------------------------------------------------------------------------------- checking a chain
@dataclass(frozen=True)
class ChainProblem:
    instance_id: str | None  # the chain (an instance's id, a process chain's id); None for the anchors
    position: int  # 1-based position in the stored order (by id); for an anchor, its id
    seq: int | None
    kind: str  # edited | deleted | inserted | reordered
    detail: str
    anchor: int | None = None  # the anchor whose recorded head showed the problem
    process_id: str | None = None  # set for a process's chain

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


# Every chain's head, for the anchors and "verify all": requests', processes' and accounts'.
_ALL_HEADS = ("SELECT id, audit_seq, audit_hash FROM process_instance UNION ALL "
              "SELECT id, audit_seq, audit_hash FROM process_chain UNION ALL "
              "SELECT id, audit_seq, audit_hash FROM account_chain")


def make_anchor(ctx, made_by: str = "system") -> dict:
    """Anchor the current head of every chain (requests', processes', accounts'): one row, plus one per
    chain that moved since the last. Run it hourly (the background runner does; or `xiezuo audit anchor`)."""
    now = ctx.now().astimezone(UTC)
    with ctx.db.transaction() as tx:
        if tx.postgres:  # one anchor at a time, so each chains on the one before
            tx.run("LOCK TABLE audit_anchor IN EXCLUSIVE MODE")
        last = tx.one("SELECT id, hash FROM audit_anchor ORDER BY id DESC LIMIT 1")
        anchored: dict[str, tuple[int, str]] = {}
        for instance_id, seq, digest in tx.all(
                "SELECT instance_id, seq, hash FROM audit_anchor_head ORDER BY anchor_id"):
            anchored[instance_id] = (seq, digest)
        heads = {i: (seq or 0, digest or GENESIS) for i, seq, digest in tx.all(_ALL_HEADS)}
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
    made = {"id": anchor_id, "at": now.isoformat(), "chains": len(covered), "moved": len(moved), "hash": own}
    if ctx.config.anchor_witness:  # after the commit: the copy never names an anchor the database lacks
        _witness_append(ctx.config.anchor_witness, made)
    return made


# The witness: one JSON line per anchor ({id, at, chains, hash}) appended to a file the database's
# writers cannot reach. What it holds is compared with the anchors on every full verification.
def _witness_append(path: str, anchor: dict) -> None:
    line = json.dumps({k: anchor[k] for k in ("id", "at", "chains", "hash")}, sort_keys=True) + "\n"
    with open(path, "a", encoding="utf-8") as out:
        out.write(line)
        out.flush()
        os.fsync(out.fileno())


def check_witness(path: str, anchors: list[Anchor]) -> tuple[int, list[ChainProblem]]:
    """Compare the anchors with the witness file's copies: (anchors it holds, problems). An anchor it
    holds that the database lacks was deleted; one with another hash was rewritten."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        lines = []
    stored = {a.id: a for a in anchors}
    problems: list[ChainProblem] = []
    held = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            copy = json.loads(line)
            anchor_id, digest = int(copy["id"]), str(copy["hash"])
        except (ValueError, KeyError, TypeError):
            problems.append(ChainProblem(None, 0, None, "edited", f"line {number} of the witness {path} is not an "
                                                                  f"anchor's copy"))
            continue
        held += 1
        found = stored.get(anchor_id)
        if found is None:
            problems.append(ChainProblem(None, anchor_id, None, "deleted",
                                         f"anchor {anchor_id} of {copy.get('at')} is gone (the witness holds it)",
                                         anchor_id))
        elif found.hash != digest:
            problems.append(ChainProblem(None, anchor_id, None, "edited",
                                         f"anchor {anchor_id} differs from the witness's copy", anchor_id))
    if anchors and not held:
        problems.append(ChainProblem(None, 0, None, "deleted",
                                     f"the witness {path} holds none of the {len(anchors)} anchor(s)"))
    return held, problems


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
_HEADS = ("SELECT id, audit_seq, audit_hash, NULL, 'instance' FROM process_instance{where} UNION ALL "
          "SELECT id, audit_seq, audit_hash, process_id, 'process' FROM process_chain{where} UNION ALL "
          "SELECT id, audit_seq, audit_hash, user_id, 'account' FROM account_chain{where}")
_KINDS = ("instance", "process", "account")
BATCH = 500


@dataclass
class _Head:
    id: str
    seq: int
    hash: str | None
    owner: str | None  # a process chain's process id, an account chain's user id; None for a request's
    kind: str  # instance | process | account

    @property
    def process_id(self) -> str | None:
        return self.owner if self.kind == "process" else None


def _chains(tx: Tx, ids: list[str]) -> dict[str, list[_Event]]:
    """The rows of the chains of `ids`, each in stored order (by id)."""
    found: dict[str, list[_Event]] = {i: [] for i in ids}
    for instance_id, *values in tx.all(_EVENTS.format(tx.in_list(ids)), ids):
        values[4] = _hashed_time(values[4])
        found[instance_id].append(_Event(*values))
    for rows in found.values():
        rows.sort(key=lambda r: r.id)
    return found


def _heads(tx: Tx, ids: list[str] | None) -> list[_Head]:
    """The heads of the chains of `ids` (all when None): requests first, then processes, each by id."""
    if ids is None:
        rows = tx.all(_HEADS.format(where=""))
    else:
        rows = []
        for start in range(0, len(ids), BATCH):
            part = ids[start:start + BATCH]
            where = f" WHERE id IN ({tx.in_list(part)})"
            rows += tx.all(_HEADS.format(where=where), [*part, *part, *part])
    rows.sort(key=lambda r: (_KINDS.index(r[4]), r[0]))
    return [_Head(i, seq or 0, digest, owner, kind) for i, seq, digest, owner, kind in rows]


def _check(tx: Tx, heads: list[_Head], history: dict[str, list[tuple[int, int, str]]], progress=None
           ) -> dict[str, list[ChainProblem]]:
    """The problems of each chain of `heads` (against the anchored `history`), by chain id."""
    found: dict[str, list[ChainProblem]] = {}
    for start in range(0, len(heads), BATCH):
        batch = heads[start:start + BATCH]
        chains = _chains(tx, [h.id for h in batch])
        for head in batch:
            rows = chains[head.id]
            problems = check_chain(head.id, head.seq, head.hash, rows)
            anchored = check_anchored(head.id, rows, history.get(head.id, []))
            if anchored is not None and (anchored.position, anchored.kind) not in {
                    (p.position, p.kind) for p in problems}:  # the chain alone showed it already
                problems.append(anchored)
            if head.process_id is not None:
                problems = [replace(p, process_id=head.process_id) for p in problems]
            found[head.id] = problems
        if progress is not None:
            progress(min(start + BATCH, len(heads)), len(heads))
    return found


def _gone(tx: Tx, ids: list[str], history: dict[str, list[tuple[int, int, str]]]) -> dict[str, list[ChainProblem]]:
    """Chains an anchor saw whose instance (or process chain) row is gone."""
    found = {}
    for iid in sorted(ids):
        rows = _chains(tx, [iid])[iid]
        found[iid] = [check_anchored(iid, rows or None, history[iid]) or ChainProblem(
            iid, 1, None, "deleted", "the instance is gone", history[iid][-1][0])]
    return found


def _own_history(tx: Tx, ids: list[str]) -> dict[str, list[tuple[int, int, str]]]:
    """The anchored heads of the chains of `ids` only (by the primary key of audit_anchor_head)."""
    history: dict[str, list[tuple[int, int, str]]] = {}
    for start in range(0, len(ids), BATCH):
        part = ids[start:start + BATCH]
        for iid, anchor_id, seq, digest in tx.all(
                f"SELECT instance_id, anchor_id, seq, hash FROM audit_anchor_head WHERE instance_id IN "
                f"({tx.in_list(part)}) ORDER BY anchor_id", part):
            history.setdefault(iid, []).append((anchor_id, seq, digest))
    return history


def _anchors_checked(tx: Tx, witness: str | None) -> tuple[list[Anchor], list[ChainProblem], int | None]:
    """Every anchor, the problems of the anchors themselves and against the witness's copies, and how
    many copies the witness holds (None without one)."""
    anchors = _anchors(tx)
    problems = _check_anchors(anchors)
    if not witness:
        return anchors, problems, None
    held, against = check_witness(witness, anchors)
    return anchors, problems + against, held


def _verify(tx: Tx, chain_ids: list[str] | None, progress=None, witness: str | None = None) -> dict:
    """Verify the chains of `chain_ids` (every chain and the anchors, with the `witness` file's copies
    of them if given, when None)."""
    heads = _heads(tx, chain_ids)
    witnessed = None
    if chain_ids is None:
        anchors, anchor_problems, witnessed = _anchors_checked(tx, witness)
        count, latest = len(anchors), anchors[-1] if anchors else None
        history = latest.history if latest else {}
    else:
        count, latest = tx.one("SELECT count(*) FROM audit_anchor")[0], _latest_anchor(tx)
        history = _own_history(tx, chain_ids)
        anchor_problems = []
    by_chain = _check(tx, heads, history, progress)
    present = {h.id for h in heads}
    by_chain.update(_gone(tx, [i for i in history if i not in present], history))
    return {"heads": heads, "by_chain": by_chain, "anchor_problems": anchor_problems, "anchors": count,
            "latest": latest, "history": history, "witnessed": witnessed}


def verify(ctx, instance_id: str | None = None, progress=None, witness: str | None = None) -> dict:
    """Verify every chain (requests', processes', accounts') and the anchors, or one chain (a request's,
    a process chain's or an account chain's id): {instances, processes, accounts, problems, anchors,
    anchored_at, anchor, witnessed}.

    The anchors are compared with the copies in `witness` (default: the configured anchor_witness);
    `witnessed` is how many it holds (None: no witness). `progress(done, total)`, if given, is
    called after each batch of chains.
    """
    with ctx.db.transaction(write=False) as tx:
        found = _verify(tx, [instance_id] if instance_id else None, progress, witness or ctx.config.anchor_witness)
        if instance_id and not found["heads"] and instance_id not in found["history"]:
            raise NotFound(f"instance {instance_id} does not exist")
    return _report(found, instance_id)


def _report(found: dict, instance_id: str | None = None) -> dict:
    problems = [*found["anchor_problems"], *(p for ps in found["by_chain"].values() for p in ps)]
    latest, history = found["latest"], found["history"]
    # Every later anchor covers a head it once saw (its digest holds every chain's head).
    covered = latest is not None and (instance_id is None or instance_id in history)
    heads = found["heads"]
    gone = [i for i in found["by_chain"] if i not in {h.id for h in heads}]
    return {"instances": sum(1 for h in heads if h.kind == "instance") + len(gone),
            "processes": sum(1 for h in heads if h.kind == "process"),
            "accounts": sum(1 for h in heads if h.kind == "account"),
            "problems": [p.to_dict() for p in problems],
            "anchors": found["anchors"], "anchored_at": latest.at.isoformat() if covered else None,
            "anchor": latest.to_dict() if latest else None, "witnessed": found["witnessed"]}


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
        found = tx.one("SELECT audit_seq FROM process_instance WHERE id = ? UNION ALL "
                       "SELECT audit_seq FROM process_chain WHERE id = ? UNION ALL "
                       "SELECT audit_seq FROM account_chain WHERE id = ?", (instance_id,) * 3)
        seen = tx.one("SELECT h.seq FROM audit_anchor_head h WHERE h.instance_id = ? ORDER BY h.anchor_id DESC "
                      "LIMIT 1", (instance_id,))
    return {"ok": not report["problems"], "problems": report["problems"], "events": found[0] if found else 0,
            "anchored_at": report["anchored_at"], "anchored_seq": seen[0] if seen else None,
            "checked_at": ctx.now().isoformat()}


# ---------------------------------------------------------------------------------- recorded results
ANCHORS = "anchors"  # the chain id under which the anchors' own verification is recorded
_RECORD = ("INSERT INTO audit_verification (chain_id, kind, checked_at, ok, events, problems) "
           "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (chain_id) DO UPDATE SET kind = excluded.kind, "
           "checked_at = excluded.checked_at, ok = excluded.ok, events = excluded.events, problems = excluded.problems")
WEB_BATCH = 200  # chains verified per step of "verify all" in the web app


def _record(tx: Tx, found: dict, now: datetime, anchors: bool) -> dict:
    """Store each verified chain's result (and the anchors', when they were checked); a summary."""
    heads = {h.id: h for h in found["heads"]}
    rows, failed = [], []
    for chain, problems in found["by_chain"].items():
        head = heads.get(chain)
        kind = head.kind if head is not None else "instance"
        rows.append((chain, kind, tx.stamp(now), not problems, head.seq if head is not None else 0,
                     _PAYLOAD([p.to_dict() for p in problems])))
        if problems:
            failed.append(chain)
    if anchors:
        rows.append((ANCHORS, "anchors", tx.stamp(now), not found["anchor_problems"], found["anchors"],
                     _PAYLOAD([p.to_dict() for p in found["anchor_problems"]])))
    tx.many(_RECORD, rows)
    report = _report(found)
    return {"checked_at": now.isoformat(), "chains": len(found["by_chain"]), "instances": report["instances"],
            "processes": report["processes"], "failed": sorted(failed), "problems": len(report["problems"]),
            "anchors": found["anchors"] if anchors else None,
            "anchors_ok": not found["anchor_problems"] if anchors else None}


def verify_and_record(ctx, now: datetime | None = None, chain_ids: list[str] | None = None) -> dict:
    """Verify every audit chain (requests' and processes') and the anchors, and record each chain's
    result (audit_verification: when, ok, problems); the audit area shows these instead of verifying
    again. Run it nightly (the background runner does). With `chain_ids`, only those chains (and not
    the anchors). Summary: {checked_at, chains, instances, processes, failed (chain ids), problems
    (how many), anchors, anchors_ok}.
    """
    now = (now or ctx.now()).astimezone(UTC)
    with ctx.db.transaction(write=False) as tx:
        found = _verify(tx, chain_ids, witness=ctx.config.anchor_witness)
        if chain_ids and not found["by_chain"]:
            raise NotFound(f"instance {chain_ids[0]} does not exist")
    with ctx.db.transaction() as tx:  # the verifying read does not hold the write lock
        return _record(tx, found, now, anchors=chain_ids is None)


def verify_next(ctx, since: datetime, limit: int = WEB_BATCH, now: datetime | None = None) -> dict:
    """One bounded step of verifying everything: up to `limit` chains not verified since `since`
    (never verified first), recorded; once none is left, the anchors. {checked, remaining, done, failed}."""
    now = (now or ctx.now()).astimezone(UTC)
    with ctx.db.transaction(write=False) as tx:
        stamp = tx.stamp(since.astimezone(UTC))
        pending = [i for (i,) in tx.all(
            "SELECT c.id FROM (SELECT id FROM process_instance UNION ALL SELECT id FROM process_chain "
            "UNION ALL SELECT id FROM account_chain) c "
            "LEFT JOIN audit_verification v ON v.chain_id = c.id WHERE v.checked_at IS NULL OR v.checked_at < ? "
            "ORDER BY v.checked_at IS NOT NULL, v.checked_at, c.id", (stamp,))]
        anchors = tx.one("SELECT checked_at FROM audit_verification WHERE chain_id = ?", (ANCHORS,))
        anchors_due = anchors is None or Tx.when(anchors[0]) < since.astimezone(UTC)
        chunk = pending[:limit]
        if chunk:
            found = _verify(tx, chunk)
        elif anchors_due:
            anchor_list, problems, witnessed = _anchors_checked(tx, ctx.config.anchor_witness)
            found = {"heads": [], "by_chain": {}, "anchor_problems": problems, "anchors": len(anchor_list),
                     "latest": anchor_list[-1] if anchor_list else None, "history": {}, "witnessed": witnessed}
    if not chunk and not anchors_due:
        return {"checked": 0, "remaining": 0, "done": True, "failed": []}
    with ctx.db.transaction() as tx:
        summary = _record(tx, found, now, anchors=not chunk)
    remaining = len(pending) - len(chunk)
    return {"checked": len(chunk), "remaining": remaining, "done": not chunk, "failed": summary["failed"],
            "anchors_ok": summary["anchors_ok"]}


def recorded(ctx, chain_ids: list[str]) -> dict[str, dict]:
    """The last recorded verification of each chain of `chain_ids` that has one: {checked_at, ok,
    events, problems}."""
    if not chain_ids:
        return {}
    with ctx.db.transaction(write=False) as tx:
        rows = tx.all("SELECT chain_id, checked_at, ok, events, problems FROM audit_verification "
                      f"WHERE chain_id IN ({tx.in_list(chain_ids)})", chain_ids)
    return {c: {"checked_at": Tx.when(at), "ok": bool(ok), "events": n, "problems": json.loads(problems)}
            for c, at, ok, n, problems in rows}


def anchors_recorded(ctx) -> dict | None:
    """The last recorded verification of the anchors, if any."""
    return recorded(ctx, [ANCHORS]).get(ANCHORS)
