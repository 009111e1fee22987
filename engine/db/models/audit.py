"""The audit area's tables: the hash chains of requests, processes and accounts, anchors, verifications."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.db.models.base import Base, DateTime


class AuditEvent(Base):
    """Append-only history; each row carries the hash of its instance's previous row."""

    __tablename__ = "audit_event"
    __table_args__ = (
        UniqueConstraint("instance_id", "seq"),
        # "Done by me": only completions are indexed, so other events cost no index write.
        Index("ix_audit_done_by", "actor", "id", sqlite_where=text("event_type = 'task_completed'"),
              postgresql_where=text("event_type = 'task_completed'")),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    instance_id: Mapped[str] = mapped_column(String(36))  # (instance_id, seq) is indexed as unique
    seq: Mapped[int] = mapped_column(Integer)
    event_type: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    element_id: Mapped[str | None] = mapped_column(String(255))
    task_id: Mapped[str | None] = mapped_column(String(36))
    data: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditAnchor(Base):
    """A periodic hash over the heads of every audit chain, chained to the previous anchor."""

    __tablename__ = "audit_anchor"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    made_by: Mapped[str] = mapped_column(String(64), nullable=False)
    chains: Mapped[int] = mapped_column(Integer, nullable=False)  # how many chains it covers
    heads_digest: Mapped[str] = mapped_column(String(64), nullable=False)  # over every (instance, seq, hash)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)


class AuditAnchorHead(Base):
    """A chain head as an anchor saw it; only heads that moved since the previous anchor get a row."""

    __tablename__ = "audit_anchor_head"
    instance_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    anchor_id: Mapped[int] = mapped_column(ForeignKey("audit_anchor.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)


class ProcessChain(Base):
    """The head of a process's own audit chain (its deploys and migrations of its requests), whose
    rows are audit_event rows under the chain's id (a uuid5 of the process id)."""

    __tablename__ = "process_chain"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    process_id: Mapped[str] = mapped_column(String(255), unique=True)
    audit_seq: Mapped[int] = mapped_column(Integer, nullable=False)
    audit_hash: Mapped[str] = mapped_column(String(64), nullable=False)


class AuditVerification(Base):
    """The last verification of one audit chain (a request's, a process's) or of the anchors."""

    __tablename__ = "audit_verification"
    chain_id: Mapped[str] = mapped_column(String(36), primary_key=True)  # "anchors" for the anchors
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # instance | process | anchors
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ok: Mapped[bool] = mapped_column(Boolean, nullable=False)
    events: Mapped[int] = mapped_column(Integer, nullable=False)  # rows the chain's head counted
    problems: Mapped[str] = mapped_column(Text, nullable=False)  # JSON list, as audit.verify reports them
