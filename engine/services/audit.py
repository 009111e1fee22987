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


def _digest(instance_id: str, seq: int, event_type: str, actor: str, at: datetime,
            element_id: str | None, task_id: str | None, data: str, prev_hash: str) -> str:
    canonical = _CANONICAL([instance_id, seq, event_type, actor, at.isoformat(timespec="microseconds"),
                            element_id, task_id, data, prev_hash])
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


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
    instance_id: str
    position: int  # 1-based position in the stored order
    seq: int | None
    kind: str  # edited | deleted | inserted | reordered | head
    detail: str

    def to_dict(self) -> dict:
        return self.__dict__.copy()


def verify_chain(session: Session, instance: ProcessInstance) -> list[ChainProblem]:
    """Check one instance's chain: every edited, deleted, inserted or reordered row is reported."""
    rows = session.scalars(select(AuditEvent).where(AuditEvent.instance_id == instance.id)
                           .order_by(AuditEvent.id)).all()
    problems: list[ChainProblem] = []
    prev_hash = GENESIS
    expected_seq = 1
    for pos, row in enumerate(rows, start=1):
        recomputed = _digest(row.instance_id, row.seq, row.event_type, row.actor, row.at, row.element_id,
                             row.task_id, row.data, row.prev_hash)
        if recomputed != row.hash:
            problems.append(ChainProblem(instance.id, pos, row.seq, "edited",
                                         f"row {row.seq} ({row.event_type}) does not match its hash"))
        if row.seq != expected_seq:
            if row.seq > expected_seq:
                kind, detail = "deleted", f"rows {expected_seq}..{row.seq - 1} are missing"
            elif row.seq < expected_seq - 1 or row.prev_hash != prev_hash:
                kind, detail = "reordered", f"row {row.seq} stands after row {expected_seq - 1}"
            else:
                kind, detail = "inserted", f"a second row {row.seq} was inserted"
            problems.append(ChainProblem(instance.id, pos, row.seq, kind, detail))
        elif row.prev_hash != prev_hash:
            problems.append(ChainProblem(instance.id, pos, row.seq, "inserted" if recomputed == row.hash
                                         else "edited", f"row {row.seq} does not follow the previous row"))
        prev_hash = row.hash
        expected_seq = row.seq + 1
    if (instance.audit_seq or 0) != len(rows) or (rows and instance.audit_hash != rows[-1].hash):
        problems.append(ChainProblem(instance.id, len(rows), instance.audit_seq, "head",
                                     f"the instance expects {instance.audit_seq} rows ending in "
                                     f"{(instance.audit_hash or '')[:12]}, found {len(rows)}"))
    return problems


def verify_all(ctx, instance_id: str | None = None) -> dict:
    """Verify the chain of one instance or of every instance."""
    with ctx.db.read() as s:
        q = select(ProcessInstance)
        if instance_id:
            q = q.where(ProcessInstance.id == instance_id)
        rows = s.scalars(q).all()
        problems = [p.to_dict() for row in rows for p in verify_chain(s, row)]
    return {"instances": len(rows), "problems": problems}
