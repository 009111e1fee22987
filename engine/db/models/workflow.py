"""The workflow core's tables: diagrams and their versions, instances and their stored task state, the
inbox, commands already answered, copies of tasks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.db.models.base import Base, DateTime, insert_sql, update_sql


class BpmnSource(Base):
    """A BPMN file's text, stored once per content hash."""

    __tablename__ = "bpmn_source"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Deployment(Base):
    __tablename__ = "deployment"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployed_by: Mapped[str] = mapped_column(String(64))
    deployed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    files: Mapped[str] = mapped_column(Text)  # JSON list of {filename, sha256}


class ProcessVersion(Base):
    """An immutable version of one executable process, its spec serialized once."""

    __tablename__ = "process_version"
    __table_args__ = (
        UniqueConstraint("process_id", "version"),
        UniqueConstraint("process_id", "content_hash"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_id: Mapped[str] = mapped_column(String(255), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(255))
    content_hash: Mapped[str] = mapped_column(String(64))
    source_sha256: Mapped[str] = mapped_column(ForeignKey("bpmn_source.sha256"))
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployment.id"))
    spec: Mapped[str] = mapped_column(Text)  # JSON: {"spec": ..., "subprocess_specs": {...}}
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(64))


class ProcessDraft(Base):
    """A diagram a process owner is editing: saved as often as they like, deployed once as a version."""

    __tablename__ = "process_draft"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_id: Mapped[str | None] = mapped_column(String(255), index=True)  # of the file's first process
    name: Mapped[str] = mapped_column(String(255))
    filename: Mapped[str] = mapped_column(String(255))
    xml: Mapped[str] = mapped_column(Text)
    base_version_id: Mapped[int | None] = mapped_column(ForeignKey("process_version.id"))
    status: Mapped[str] = mapped_column(String(16))  # open | deployed | discarded
    revision: Mapped[int] = mapped_column(Integer)  # bumped by every save: a stale save is refused
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deployment_id: Mapped[int | None] = mapped_column(ForeignKey("deployment.id"))


class ProcessInstance(Base):
    """An instance's own row. Lists and searches go through request_summary; the timer sweep through
    next_due_at: no other index, since each one costs every start."""

    __tablename__ = "process_instance"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_version.id"))
    process_id: Mapped[str] = mapped_column(String(255))
    process_version: Mapped[int] = mapped_column(Integer)
    business_key: Mapped[str | None] = mapped_column(String(255))
    initiator: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # running|completed|errored|cancelled
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    lock_version: Mapped[int] = mapped_column(Integer, nullable=False)
    task_seq: Mapped[int] = mapped_column(Integer, default=0)  # last instance_task.seq handed out
    meta: Mapped[str] = mapped_column(Text)  # JSON of the top workflow's own attributes
    error: Mapped[str | None] = mapped_column(Text)  # JSON {element_id, message} when errored
    audit_seq: Mapped[int] = mapped_column(Integer, default=0)
    audit_hash: Mapped[str] = mapped_column(String(64))
    # The layout of meta and the task rows (engine/workflow/state_versions.py) and SpiffWorkflow's serializer
    # version of the task bodies: a reader upgrades older state and refuses newer.
    state_version: Mapped[int] = mapped_column(Integer, server_default="1")
    serializer_version: Mapped[str] = mapped_column(String(16), server_default="1.5")

    __mapper_args__ = {"version_id_col": lock_version}


class InstanceSubprocess(Base):
    """A subprocess or call activity of an instance: its own attributes, not its tasks."""

    __tablename__ = "instance_subprocess"
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instance.id"), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    meta: Mapped[str] = mapped_column(Text)


class InstanceTask(Base):
    """One task of an instance's tree; only changed tasks are rewritten on save.

    Keyed by the position the store handed out (seq), which it keeps with each loaded task: loads
    read in that order and a save updates or deletes by it, with no second index on task_id.
    """

    __tablename__ = "instance_task"
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instance.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    task_id: Mapped[str] = mapped_column(String(36))
    workflow_id: Mapped[str] = mapped_column(String(36))  # "" for the top workflow
    state: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)


class InboxTask(Base):
    """One row per open human task: the inbox never deserializes an instance.

    Every command inserts and deletes these rows, so each index costs every command: only the ones
    the inbox queries use (assignee with due date, candidates, instance).
    """

    __tablename__ = "inbox_task"
    __table_args__ = (
        Index("ix_inbox_assignee_due", "assignee", "due_at"),
        {"sqlite_with_rowid": False},  # one B-tree for rows and key, not two
    )
    task_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instance.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(255))
    process_version: Mapped[int] = mapped_column(Integer)
    business_key: Mapped[str | None] = mapped_column(String(255))
    task_name: Mapped[str] = mapped_column(String(255))
    element_id: Mapped[str] = mapped_column(String(255))
    lane: Mapped[str | None] = mapped_column(String(255))
    assignee: Mapped[str | None] = mapped_column(String(64))
    candidate_users: Mapped[str] = mapped_column(Text, default="")
    candidate_groups: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    priority: Mapped[int] = mapped_column(Integer, default=50)
    delegated_by: Mapped[str | None] = mapped_column(String(64))  # 委派: the task goes back to this user
    subject: Mapped[str | None] = mapped_column(String(255))  # what one task of a multi-instance step is about
    timeout_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)  # 超时处理 due


class InboxCandidate(Base):
    """Who may claim an inbox task: one row per candidate user or group, indexed by name."""

    __tablename__ = "inbox_candidate"
    __table_args__ = (Index("ix_inbox_candidate_name", "kind", "name"), {"sqlite_with_rowid": False})
    task_id: Mapped[str] = mapped_column(ForeignKey("inbox_task.task_id", ondelete="CASCADE"),
                                         primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # user|group
    name: Mapped[str] = mapped_column(String(255), primary_key=True)


class IdempotentCommand(Base):
    """An API command sent with an Idempotency-Key: what was asked and what it answered, so that a retry
    gets that answer again instead of running the command twice (engine.workflow.idempotency)."""

    __tablename__ = "idempotent_command"
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # keys are each caller's own
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(Text)
    body_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the request body
    state: Mapped[str] = mapped_column(String(16))  # running | committed | answered
    attempt: Mapped[int] = mapped_column(Integer)  # which run holds the key (a stale run's may be taken over)
    status: Mapped[int | None] = mapped_column(Integer)
    answer: Mapped[str | None] = mapped_column(Text)  # the response body
    location: Mapped[str | None] = mapped_column(Text)  # the Location header of a 201
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)  # for the cleanup
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TaskCc(Base):
    """A task copied (抄送) to someone for their information."""

    __tablename__ = "task_cc"
    __table_args__ = (Index("ix_task_cc_to", "to_user", "created_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instance.id"))
    task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str | None] = mapped_column(String(255))
    task_name: Mapped[str] = mapped_column(String(255))
    from_user: Mapped[str] = mapped_column(String(64))
    to_user: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# --- the statements a command queues on these tables ----------------------------------------------
INBOX_INSERT = insert_sql(InboxTask, "task_id", "instance_id", "process_id", "process_version", "business_key",
                          "task_name", "element_id", "lane", "assignee", "candidate_users", "candidate_groups",
                          "created_at", "due_at", "priority", "subject", "timeout_at")
CANDIDATE_INSERT = insert_sql(InboxCandidate, "task_id", "kind", "name")
TASK_INSERT = insert_sql(InstanceTask, "instance_id", "task_id", "state", "body", "workflow_id", "seq")
TASK_UPDATE = update_sql(InstanceTask, ("state", "body"), ("instance_id", "seq"))
