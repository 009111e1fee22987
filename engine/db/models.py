"""The engine's tables. Rows only: workflow logic lives in the services."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy import DateTime as _DateTime
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class DateTime(TypeDecorator):
    """UTC on disk (naive), aware UTC in Python: the same on SQLite and PostgreSQL."""

    impl = _DateTime
    cache_ok = True

    def __init__(self, timezone: bool = True):
        super().__init__(timezone=False)

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        return value.replace(tzinfo=UTC) if value is not None else None


class Base(DeclarativeBase):
    pass


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


class InboxCandidate(Base):
    """Who may claim an inbox task: one row per candidate user or group, indexed by name."""

    __tablename__ = "inbox_candidate"
    __table_args__ = (Index("ix_inbox_candidate_name", "kind", "name"), {"sqlite_with_rowid": False})
    task_id: Mapped[str] = mapped_column(ForeignKey("inbox_task.task_id", ondelete="CASCADE"),
                                         primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # user|group
    name: Mapped[str] = mapped_column(String(255), primary_key=True)


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


class Department(Base):
    """A department in the organisation tree, keyed by a short code (e.g. MKT)."""

    __tablename__ = "department"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("department.id"), index=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)


class AppUser(Base):
    __tablename__ = "app_user"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(64))
    department_id: Mapped[str | None] = mapped_column(ForeignKey("department.id"), index=True)
    superior_id: Mapped[str | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))  # argon2; None: cannot sign in
    # Counts the passwords set (not the rehashes of one): a session signed in under another count has ended.
    password_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locale: Mapped[str | None] = mapped_column(String(16))  # zh_CN | en; None: the browser's choice
    timezone: Mapped[str | None] = mapped_column(String(64))  # None: the organisation's
    # Set with a password an admin gave (or a set-up script): the user chooses their own before anything else.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class UserSession(Base):
    """One signed-in browser: the cookie holds a random token, this row its hash. Signing out ends the
    row, so a copy of the cookie opens nothing; idle and too old rows end when next seen."""

    __tablename__ = "user_session"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the token
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # written once a minute at most
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end_reason: Mapped[str | None] = mapped_column(String(16))  # signed_out | idle | expired
    address: Mapped[str | None] = mapped_column(String(64))
    agent: Mapped[str | None] = mapped_column(String(255))


class SignInThrottle(Base):
    """Failed sign-ins under one name (an account's id, or a name that is none, so a lock does not tell
    which names exist) and the lock they led to; a success or an admin's unlock removes the row."""

    __tablename__ = "sign_in_throttle"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # the first failure counted
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AccountChain(Base):
    """The head of an account's own audit chain (its sign-ins, failed attempts, locks and unlocks), whose
    rows are audit_event rows under the chain's id (a uuid5 of the user id). Names that are no account
    share one chain, whose user_id is NULL."""

    __tablename__ = "account_chain"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    audit_seq: Mapped[int] = mapped_column(Integer, nullable=False)
    audit_hash: Mapped[str] = mapped_column(String(64), nullable=False)


class DepartmentPost(Base):
    """Who holds a department's post (head, interface person) and since when; ended rows are history."""

    __tablename__ = "department_post"
    __table_args__ = (
        Index("ux_department_post_current", "department_id", "post", unique=True,
              sqlite_where=text("valid_to IS NULL"), postgresql_where=text("valid_to IS NULL")),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    department_id: Mapped[str] = mapped_column(ForeignKey("department.id"))
    post: Mapped[str] = mapped_column(String(16))  # head | interface
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id"), index=True)
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    changed_by: Mapped[str] = mapped_column(String(64))


class Substitute(Base):
    """While `user_id` is away (dates inclusive), `substitute_id` receives their tasks."""

    __tablename__ = "substitute"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id"), index=True)
    substitute_id: Mapped[str] = mapped_column(ForeignKey("app_user.id"))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(255), default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OrgChange(Base):
    """One change of the organisation that the engine's functions read (a user's department,
    superior or state, a department's parent, a group membership, an absence), with the value
    before and after (JSON), written in the change's own transaction. Posts keep their own history
    (DepartmentPost); with both, the organisation can be told as it was at any time (the replay)."""

    __tablename__ = "org_change"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    entity: Mapped[str] = mapped_column(String(16))  # user | department | member | substitute
    key: Mapped[str] = mapped_column(String(64))  # the user's or department's id, the absence's row id
    field: Mapped[str] = mapped_column(String(255))  # the column, the group's name, or "row"
    old: Mapped[str | None] = mapped_column(Text)
    new: Mapped[str | None] = mapped_column(Text)
    changed_by: Mapped[str | None] = mapped_column(String(64))


class CalendarDay(Base):
    """An administrator's ruling on a date the statutory calendar does not know (yet)."""

    __tablename__ = "calendar_day"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    workday: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(String(255), default="")
    set_by: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RequestCounter(Base):
    """The last number handed out per prefix and month (XMBG-YYYYMM###), taken under a row lock."""

    __tablename__ = "request_counter"
    period: Mapped[str] = mapped_column(String(32), primary_key=True)  # PREFIX-YYYYMM
    last_number: Mapped[int] = mapped_column(Integer)


class KnowledgeEntry(Base):
    """A lesson from a retrospective; searchable once a platform admin approved it."""

    __tablename__ = "knowledge_entry"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_no: Mapped[str | None] = mapped_column(String(32), index=True)
    instance_id: Mapped[str | None] = mapped_column(String(36))
    title: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[str] = mapped_column(Text, default="")  # comma-separated
    status: Mapped[str] = mapped_column(String(16), index=True)  # proposed | approved | rejected
    proposed_by: Mapped[str] = mapped_column(String(64))
    proposed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    review_note: Mapped[str | None] = mapped_column(Text)
    search_text: Mapped[str] = mapped_column(Text, default="")  # title, body, tags as space-separated words
    # Of its request, for the knowledge page's facets (engine.knowledge.lessons.place keeps it).
    request_type: Mapped[str | None] = mapped_column(String(32))
    __table_args__ = (Index("ix_knowledge_entry_instance_id", "instance_id"),
                      Index("ix_knowledge_entry_browse", "status", "reviewed_at", "id"),
                      Index("ix_knowledge_entry_type", "status", "request_type"))


class KnowledgeEntryDept(Base):
    """A department an entry's request concerns (requester's, lead, involved): the department facet."""

    __tablename__ = "knowledge_entry_dept"
    __table_args__ = (Index("ix_knowledge_entry_dept", "department_id", "entry_id"),)
    entry_id: Mapped[int] = mapped_column(ForeignKey("knowledge_entry.id", ondelete="CASCADE"), primary_key=True)
    department_id: Mapped[str] = mapped_column(String(32), primary_key=True)


class GuidePage(Base):
    """A page (section) of the collaboration guide (协作指南); its versions are guide_revision rows."""

    __tablename__ = "guide_page"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    position: Mapped[int] = mapped_column(Integer)  # the guide's order, among pages not retired
    title: Mapped[str] = mapped_column(String(255))  # of the current revision
    body: Mapped[str] = mapped_column(Text)  # Markdown, of the current revision
    revision: Mapped[int] = mapped_column(Integer)  # the current revision's number: a stale edit is refused
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class GuideRevision(Base):
    """One version of a guide page as an admin saved it (created, edited, retired, restored); never changed."""

    __tablename__ = "guide_revision"
    __table_args__ = (UniqueConstraint("page_id", "number", name="uq_guide_revision_number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("guide_page.id"))
    number: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))  # created | edited | retired | restored
    title: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text, default="")  # what changed, in the editor's words
    author: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RecognitionNote(Base):
    """An admin's citation (表彰说明) of a department recognised for a period (2026-11, 2026-Q4, 2026)."""

    __tablename__ = "recognition_note"
    __table_args__ = (UniqueConstraint("period", "department_id", name="uq_recognition_note"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period: Mapped[str] = mapped_column(String(16))
    department_id: Mapped[str] = mapped_column(ForeignKey("department.id"))
    note: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RequestSummary(Base):
    """What lists and filters show of a request, written when it is filed (and its lead when dispatched);
    its status is the instance's."""

    __tablename__ = "request_summary"
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instance.id"), primary_key=True)
    request_no: Mapped[str] = mapped_column(String(32), unique=True)
    process_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(255))
    request_type: Mapped[str | None] = mapped_column(String(32))
    urgency: Mapped[str | None] = mapped_column(String(16))
    priority: Mapped[str | None] = mapped_column(String(16))
    requester: Mapped[str] = mapped_column(String(64), index=True)
    requester_dept: Mapped[str | None] = mapped_column(String(32), index=True)
    lead_dept: Mapped[str | None] = mapped_column(String(32), index=True)
    involved_depts: Mapped[str] = mapped_column(Text, default="")  # comma-separated department ids
    expected_date: Mapped[str | None] = mapped_column(String(10))
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


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


class ApiToken(Base):
    """A personal API token; only its hash is kept (the token is shown once)."""

    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class IdempotentCommand(Base):
    """An API command sent with an Idempotency-Key: what was asked and what it answered, so that a retry
    gets that answer again instead of running the command twice (engine.requests.idempotency)."""

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


class GroupMembership(Base):
    __tablename__ = "group_membership"
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    group_name: Mapped[str] = mapped_column(String(255), primary_key=True, index=True)


class Revision(Base):
    """A counter bumped by every change of something cached in memory (e.g. the organisation), in
    the change's own transaction, so each process can tell that its copy is stale."""

    __tablename__ = "revision"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


class BackgroundJob(Base):
    """A periodic job of the background workers (anchoring, verification, analytics): when it is
    next due. A worker claims a due job by moving next_run_at on in its own transaction, so across
    any number of workers each run happens once."""

    __tablename__ = "background_job"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)


class Notification(Base):
    """The outbox: a message for one person, written in the transaction that caused it."""

    __tablename__ = "notification"
    # Read by recipient (the user's list and unread count) and by instance (a request's history);
    # the dispatcher finds the rows not yet dispatched (sent_at NULL) through a partial index that
    # only holds those, so it stays a few rows long however long the table grows.
    __table_args__ = (Index("ix_notification_undispatched", "id", sqlite_where=text("sent_at IS NULL"),
                            postgresql_where=text("sent_at IS NULL")),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[str | None] = mapped_column(String(36), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36))
    recipient: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # task | return | reminder | urge | escalation | red_warning | info
    message: Mapped[str] = mapped_column(Text)  # as written (a diagram's notify()), or the code's Chinese text
    # A notice the engine composes: its message of the catalogue (engine.messages), rendered for each reader.
    code: Mapped[str | None] = mapped_column(String(64))
    params: Mapped[str | None] = mapped_column(Text)  # JSON
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NotificationDelivery(Base):
    """One message of a notification on a channel beyond the app (email, a department's group bot),
    made from the outbox by engine.notify and sent by whichever worker claims it."""

    __tablename__ = "notification_delivery"
    __table_args__ = (Index("ix_notification_delivery_due", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notification.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # email | bot
    target: Mapped[str] = mapped_column(String(255))  # an email address; a department id (its bot)
    # One row per message: email:<notification id>; a bot's message per event names all its recipients.
    dedupe_key: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    recipients: Mapped[str] = mapped_column(Text)  # user ids, comma-separated
    message: Mapped[str] = mapped_column(Text)
    locale: Mapped[str | None] = mapped_column(String(16))  # the language `message` was rendered in (None: zh_CN)
    instance_id: Mapped[str | None] = mapped_column(String(36))
    task_id: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16))  # pending | sending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # while sending: lease_until
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    digest_of: Mapped[int | None] = mapped_column(Integer)  # sent inside the digest message of that row
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NotificationPreference(Base):
    """A user's channels per kind of notification beyond the app, and quiet hours (no row: defaults)."""

    __tablename__ = "notification_preference"
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    email_kinds: Mapped[str] = mapped_column(Text, default="")  # kinds, comma-separated
    bot_kinds: Mapped[str] = mapped_column(Text, default="")
    quiet_start: Mapped[str | None] = mapped_column(String(5))  # HH:MM local (organisation's zone)
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    urgent_in_quiet: Mapped[bool] = mapped_column(Boolean, default=False)  # red warnings, escalations go through
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DepartmentBot(Base):
    """A department's group bot (DingTalk, Feishu, WeCom webhook) and the kinds of notices it posts."""

    __tablename__ = "department_bot"
    department_id: Mapped[str] = mapped_column(ForeignKey("department.id"), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))  # dingtalk | feishu | wecom
    webhook_url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str | None] = mapped_column(String(255))
    kinds: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))



# --- records of a request -------------------------------------------------------------------
# Each record is a row of its own table, linked to the instance, its request number and (when a
# task produced it) the task: the workflow's task data never grows with them. Every record table
# has one index, on instance_id, for the only way they are read: all records of one request
# (the timeline, the current plan, the latest progress per plan task).


class _RecordColumns:
    """Columns every record has: whose request, which task, who wrote it and when."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, sort_order=-7)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instance.id"), sort_order=-6)
    request_no: Mapped[str | None] = mapped_column(String(255), sort_order=-5)  # the instance's business_key
    task_id: Mapped[str | None] = mapped_column(String(36), sort_order=-4)
    element_id: Mapped[str | None] = mapped_column(String(255), sort_order=-3)
    author: Mapped[str] = mapped_column(String(64), sort_order=-2)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), sort_order=-1)


class ProgressUpdate(_RecordColumns, Base):
    """Template 3: where a plan task stands, posted by its owner."""

    __tablename__ = "progress_update"
    # Serves the timeline (instance_id) and the latest update per plan task (max(id) per key).
    __table_args__ = (Index("ix_progress_update_task", "instance_id", "plan_task_key", "id"),)
    plan_task_key: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(8))  # 未开始 | 进行中 | 待支持 | 已完成
    work_done: Mapped[str] = mapped_column(Text, default="")
    problems: Mapped[str] = mapped_column(Text, default="")
    risk: Mapped[bool] = mapped_column(Boolean, default=False)
    risk_note: Mapped[str] = mapped_column(Text, default="")
    expected_finish: Mapped[date | None] = mapped_column(Date)


class RequestComment(_RecordColumns, Base):
    __tablename__ = "request_comment"
    __table_args__ = (Index("ix_request_comment_instance", "instance_id"),)  # the timeline
    body: Mapped[str] = mapped_column(Text)


class AttachmentBlob(Base):
    """An attachment's bytes when kept in the database, stored once per content hash."""

    __tablename__ = "attachment_blob"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Attachment(_RecordColumns, Base):
    """A file of a request; its bytes are in attachment_blob or on disk, named by their sha256."""

    __tablename__ = "attachment"
    __table_args__ = (Index("ix_attachment_instance", "instance_id"),)  # the timeline
    filename: Mapped[str] = mapped_column(String(255))  # sanitised, for display and download only
    content_type: Mapped[str] = mapped_column(String(127))  # as detected from the bytes
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage: Mapped[str] = mapped_column(String(8))  # db | disk


class Meeting(_RecordColumns, Base):
    """A coordination meeting's notice (at least 24 h ahead)."""

    __tablename__ = "meeting"
    __table_args__ = (Index("ix_meeting_instance", "instance_id"),)  # the timeline, the latest meeting
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    place: Mapped[str] = mapped_column(String(255), default="")
    agenda: Mapped[str] = mapped_column(Text)
    attendees: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of user ids


class MeetingMinutes(_RecordColumns, Base):
    __tablename__ = "meeting_minutes"
    __table_args__ = (Index("ix_meeting_minutes_instance", "instance_id"),)  # the timeline
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meeting.id"))
    content: Mapped[str] = mapped_column(Text)
    conclusions: Mapped[str] = mapped_column(Text, default="")
    attendees: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of who attended
    attachment_ids: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of attachment ids


class DeptFeedback(_RecordColumns, Base):
    """Template 2: an involved department's answer to the request."""

    __tablename__ = "dept_feedback"
    __table_args__ = (Index("ix_dept_feedback_instance", "instance_id"),)  # the timeline
    department_id: Mapped[str | None] = mapped_column(String(32))
    content: Mapped[str] = mapped_column(Text)
    suggested_date: Mapped[date | None] = mapped_column(Date)
    resources: Mapped[str] = mapped_column(Text, default="")
    remarks: Mapped[str] = mapped_column(Text, default="")


class CoordinationPlan(_RecordColumns, Base):
    """One version of the coordination plan; a revision is a new version, never an edit."""

    __tablename__ = "coordination_plan"
    # Serves the timeline (instance_id) and the current plan (highest version); one per number.
    __table_args__ = (UniqueConstraint("instance_id", "version", name="uq_coordination_plan_version"),)
    version: Mapped[int] = mapped_column(Integer)
    lead_department: Mapped[str | None] = mapped_column(String(32))
    risk_plan: Mapped[str] = mapped_column(Text)


class PlanTask(Base):
    """A task of one plan version; `task_key` stays the same across versions of the plan."""

    __tablename__ = "plan_task"
    # Serves the tasks of a plan (plan_id); a key appears once per version.
    __table_args__ = (UniqueConstraint("plan_id", "task_key", name="uq_plan_task_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("coordination_plan.id"))
    task_key: Mapped[str] = mapped_column(String(36))
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(255))
    department_id: Mapped[str] = mapped_column(String(32))
    owner: Mapped[str] = mapped_column(String(64))
    planned_start: Mapped[date] = mapped_column(Date)
    planned_end: Mapped[date] = mapped_column(Date)
    delivery_standard: Mapped[str] = mapped_column(Text)


class ActionTable(_RecordColumns, Base):
    """A problem-solving action table (问题解决行动表) from consensus or arbitration."""

    __tablename__ = "action_table"
    __table_args__ = (Index("ix_action_table_instance", "instance_id"),)  # the timeline
    decision: Mapped[str] = mapped_column(Text, default="")


class ActionItem(Base):
    __tablename__ = "action_item"
    # Serves the items of a table (table_id), in order.
    __table_args__ = (UniqueConstraint("table_id", "position", name="uq_action_item_position"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("action_table.id"))
    position: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(64))
    deadline: Mapped[date] = mapped_column(Date)


class Retrospective(_RecordColumns, Base):
    """Template 4: what the request set out to do, what came of it, and what to keep or change."""

    __tablename__ = "retrospective"
    __table_args__ = (Index("ix_retrospective_instance", "instance_id"),)  # the timeline
    goal: Mapped[str] = mapped_column(Text)
    result: Mapped[str] = mapped_column(Text)
    highlights: Mapped[str] = mapped_column(Text)
    problems: Mapped[str] = mapped_column(Text)
    improvements: Mapped[str] = mapped_column(Text)
    departments: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of taking part


class Satisfaction(_RecordColumns, Base):
    """The requester's score, once per request."""

    __tablename__ = "satisfaction"
    # One per request, and the timeline's lookup by instance.
    __table_args__ = (UniqueConstraint("instance_id", name="uq_satisfaction_instance"),)
    score: Mapped[int] = mapped_column(Integer)  # 1..5
    remark: Mapped[str] = mapped_column(Text, default="")


class Deliverable(_RecordColumns, Base):
    """What a plan task's owner hands over: a note and files."""

    __tablename__ = "deliverable"
    __table_args__ = (Index("ix_deliverable_instance", "instance_id"),)  # the timeline
    plan_task_key: Mapped[str | None] = mapped_column(String(36))
    note: Mapped[str] = mapped_column(Text)
    attachment_ids: Mapped[str] = mapped_column(Text, default="[]")


class Acceptance(_RecordColumns, Base):
    """The requester's verdict on a deliverable; a return names the concrete problem."""

    __tablename__ = "acceptance"
    __table_args__ = (Index("ix_acceptance_instance", "instance_id"),)  # the timeline
    plan_task_key: Mapped[str | None] = mapped_column(String(36))
    decision: Mapped[str] = mapped_column(String(16))
    problem: Mapped[str] = mapped_column(Text, default="")


class ConflictPosition(_RecordColumns, Base):
    """A party's position and demands in the conflict-resolution subprocess."""

    __tablename__ = "conflict_position"
    __table_args__ = (Index("ix_conflict_position_instance", "instance_id"),)  # the timeline
    department_id: Mapped[str | None] = mapped_column(String(32))
    position: Mapped[str] = mapped_column(Text)
    demands: Mapped[str] = mapped_column(Text)
    attachment_ids: Mapped[str] = mapped_column(Text, default="[]")


# --- analytics: facts derived from the audit log by engine.analytics.figures.refresh -------------
# Written outside the command path (a periodic refresh), read by the dashboard and the heat map.


class AnalyticsInstance(Base):
    """How far the refresh has read an instance's audit chain, and the step it stands in."""

    __tablename__ = "analytics_instance"
    __table_args__ = (Index("ix_analytics_instance_open", "status", "department_id"),
                      Index("ix_analytics_instance_rated", "rated_at", "score", "instance_id"))
    instance_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)  # the last audit_event.seq read
    step: Mapped[int] = mapped_column(Integer)  # step of the flow (1-6) of the latest main-flow task
    status: Mapped[str] = mapped_column(String(16))  # the instance's, as of that event
    department_id: Mapped[str | None] = mapped_column(String(32))  # the lead, else the requester's department
    rated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # the satisfaction score's time
    score: Mapped[int | None] = mapped_column(Integer)  # 1..5


class AnalyticsTaskSpan(Base):
    """A user task's time from ready to completed (or cancelled); open while ended_at is NULL."""

    __tablename__ = "analytics_task_span"
    __table_args__ = (
        Index("ix_analytics_span_version", "process_version_id", "ended_at", "outcome", "element_id", "seconds",
              "instance_id"),
        Index("ix_analytics_span_ended", "ended_at", "outcome", "urgency", "due_at", "instance_id"),
        Index("ix_analytics_span_element", "element_id", "ended_at", "outcome", "department_id", "seconds",
              "instance_id"),
    )
    instance_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    task_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    process_version_id: Mapped[int] = mapped_column(Integer)
    element_id: Mapped[str] = mapped_column(String(255))
    step: Mapped[int] = mapped_column(Integer)
    urgency: Mapped[str | None] = mapped_column(String(16))
    department_id: Mapped[str | None] = mapped_column(String(32))  # of who holds or completed it
    ready_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(16))  # open | completed | cancelled
    seconds: Mapped[int | None] = mapped_column(Integer)


class AnalyticsStepSpan(Base):
    """A request's time in one step of the flow: first task ready to last task ended."""

    __tablename__ = "analytics_step_span"
    __table_args__ = (Index("ix_analytics_step_ended", "ended_at", "step", "seconds", "instance_id"),)
    instance_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # NULL while a task is open
    seconds: Mapped[int | None] = mapped_column(Integer)


class AnalyticsFlow(Base):
    """How often a request took a sequence flow on one local day."""

    __tablename__ = "analytics_flow"
    __table_args__ = (Index("ix_analytics_flow_version", "process_version_id", "day", "flow_id", "taken",
                            "instance_id"),)
    instance_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    flow_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    process_version_id: Mapped[int] = mapped_column(Integer)
    taken: Mapped[int] = mapped_column(Integer)


class AnalyticsFlowDay(Base):
    """How often all requests of a process version took a sequence flow on one local day (the sum of
    analytics_flow, which whoever sees every request reads)."""

    __tablename__ = "analytics_flow_day"
    process_version_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    flow_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    taken: Mapped[int] = mapped_column(Integer)


class AnalyticsRequestDept(Base):
    """A department a request concerns (requester's, lead, involved): the dashboard's scope."""

    __tablename__ = "analytics_request_dept"
    __table_args__ = (Index("ix_analytics_request_dept", "department_id", "instance_id"),)
    instance_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    department_id: Mapped[str] = mapped_column(String(32), primary_key=True)


class AnalyticsTaskDay(Base):
    """Per scope ('' every request, else a department the requests concern), process version, local
    day and user task: the tasks completed, their total seconds and each one's seconds in ascending
    order (4-byte little-endian integers), from which a period's averages and exact percentiles come
    without reading every task."""

    __tablename__ = "analytics_task_day"
    __table_args__ = ({"sqlite_with_rowid": False},)  # rows stored in key order: a period is one range
    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    process_version_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    element_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    tasks: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(BigInteger)
    seconds: Mapped[bytes] = mapped_column(LargeBinary)


class AnalyticsSlaDay(Base):
    """Per scope (as analytics_task_day), local day and urgency ('' for none): the tasks with a due
    time completed that day, and how many of them on time."""

    __tablename__ = "analytics_sla_day"
    __table_args__ = ({"sqlite_with_rowid": False},)
    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    urgency: Mapped[str] = mapped_column(String(16), primary_key=True)
    due: Mapped[int] = mapped_column(Integer)
    on_time: Mapped[int] = mapped_column(Integer)


class AnalyticsFlowDeptDay(Base):
    """How often the requests a department is concerned in took a sequence flow of a process version
    on one local day (analytics_flow summed per department, which its head reads)."""

    __tablename__ = "analytics_flow_dept_day"
    __table_args__ = ({"sqlite_with_rowid": False},)
    department_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    process_version_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    flow_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    taken: Mapped[int] = mapped_column(Integer)


class AnalyticsPlanTask(Base):
    """A task of the current plan of a running request with its latest progress, and the first moment
    it is red (red_from: always for a risk or 待支持, else the earlier of 24 hours before its planned
    end and 24 hours after a 进行中 update; NULL: not red whatever the time), so the red warnings of
    now are a range of one index."""

    __tablename__ = "analytics_plan_task"
    __table_args__ = (Index("ix_analytics_plan_task_red", "red_from"),)
    instance_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    task_key: Mapped[str] = mapped_column(String(36), primary_key=True)
    request_no: Mapped[str] = mapped_column(String(32))
    request_title: Mapped[str] = mapped_column(String(255))
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(255))
    department_id: Mapped[str] = mapped_column(String(32))
    owner: Mapped[str] = mapped_column(String(64))
    planned_end: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(8))  # of the latest progress update; 未开始 without one
    risk: Mapped[bool] = mapped_column(Boolean)
    latest_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # the latest update's time
    red_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


__all__ = ["Base", "BpmnSource", "Deployment", "ProcessVersion", "ProcessDraft", "ProcessInstance",
           "InstanceSubprocess", "InstanceTask", "InboxTask", "InboxCandidate", "AuditEvent", "ProcessChain",
           "AuditVerification",
           "AppUser", "GroupMembership", "DateTime", "Department", "DepartmentPost", "Substitute",
           "CalendarDay", "RequestCounter", "KnowledgeEntry", "Revision", "BackgroundJob", "Notification", "ApiToken",
           "IdempotentCommand",
           "RequestSummary", "TaskCc", "NotificationDelivery", "NotificationPreference", "DepartmentBot",
           "ProgressUpdate",
           "RequestComment", "AttachmentBlob", "Attachment", "Meeting", "MeetingMinutes", "DeptFeedback",
           "CoordinationPlan", "PlanTask", "ActionTable", "ActionItem", "Retrospective", "Satisfaction",
           "Deliverable", "Acceptance", "ConflictPosition", "GuidePage", "GuideRevision",
           "RecognitionNote", "AnalyticsInstance", "AnalyticsTaskSpan", "AnalyticsStepSpan", "AnalyticsFlow",
           "AnalyticsFlowDay", "AnalyticsRequestDept", "AnalyticsTaskDay", "AnalyticsSlaDay",
           "AnalyticsFlowDeptDay", "AnalyticsPlanTask"]
