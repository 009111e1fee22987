"""The records of a request: progress, comments, files, meetings, feedback, plans, actions, acceptance."""

from __future__ import annotations

from datetime import date, datetime

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
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.db.models.base import Base, DateTime


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
