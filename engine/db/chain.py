"""The audit log: append-only rows chained by hash, written with the change they record.

Each request (process instance) has its own chain; so has each process, for what changes the
process itself: every deploy of its versions and every migration of its running requests
(`process_chain`, whose rows are audit_event rows under the chain's id, a uuid5 of the process id);
and so has each account, for its sign-ins, failed attempts, locks and unlocks (`account_chain`).
Anchors (engine.audit.anchors) hash the heads of all chains together; verification
(engine.audit.verify) checks every chain and the anchors.

For the background runner: `audit_anchors.make_anchor(ctx)` hourly, `audit_verify.verify_and_record(ctx)`
nightly (it stores each chain's result in audit_verification, which the audit area shows instead of
verifying again).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.db.models import AuditEvent, ProcessInstance
from engine.db.models.audit import EVENT_INSERT
from engine.db.tx import Tx
from engine.errors import NotFound, StaleInstance

GENESIS = "0" * 64
CANONICAL = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
PAYLOAD = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=str).encode


def _digest(instance_id: str, seq: int, event_type: str, actor: str, at: datetime | str,
            element_id: str | None, task_id: str | None, data: str, prev_hash: str) -> str:
    """The row's hash; `at` as a UTC datetime or already in its hashed form (see hashed_time)."""
    when = at if isinstance(at, str) else at.isoformat(timespec="microseconds")
    canonical = CANONICAL([instance_id, seq, event_type, actor, when, element_id, task_id, data, prev_hash])
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def hashed_time(value) -> str:
    """A stored `at` as the hash reads it: "YYYY-MM-DDTHH:MM:SS.ffffff+00:00". SQLite's text (always
    written with microseconds) is rearranged without parsing; anything else goes through datetime."""
    if isinstance(value, str) and len(value) == 26 and value[10] == " " and value[19] == ".":
        return f"{value[:10]}T{value[11:]}+00:00"
    return Tx.when(value).isoformat(timespec="microseconds")




class ChainHolder(Protocol):
    """What holds a chain's head while events are appended: an instance's row (engine.workflow.store)
    or a head read with lock_chain."""

    id: str
    audit_seq: int
    audit_hash: str


def record(tx: Tx, instance: ChainHolder, event_type: str, actor: str, at: datetime,
           element_id: str | None = None, task_id: str | None = None, data: dict | None = None) -> str:
    """Append one event to the instance's chain, in the caller's transaction; its hash."""
    seq = (instance.audit_seq or 0) + 1
    prev = instance.audit_hash or GENESIS
    payload = PAYLOAD(data or {})
    at = at.astimezone(UTC)  # stored and hashed as UTC, as it reads back
    digest = _digest(instance.id, seq, event_type, actor, at, element_id, task_id, payload, prev)
    tx.queue(EVENT_INSERT, (instance.id, seq, event_type, actor, tx.stamp(at), element_id, task_id, payload, prev,
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
        raise NotFound("request.unknown", request=instance_id)
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
        raise StaleInstance("instance.stale")
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
        raise StaleInstance("instance.stale")
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
class ChainEvent:
    """An audit_event row as verification reads it."""

    id: int
    seq: int
    event_type: str
    actor: str
    at: datetime | str  # a datetime, or as hashed_time gives it
    element_id: str | None
    task_id: str | None
    data: str
    prev_hash: str
    hash: str


def _written_as(instance_id: str, row: ChainEvent, seq: int) -> bool:
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


def check_chain(instance_id: str, head_seq: int, head_hash: str | None, rows: list[ChainEvent]) -> list[ChainProblem]:
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
    return check_chain(instance.id, instance.audit_seq or 0, instance.audit_hash, [ChainEvent(*r) for r in rows])
