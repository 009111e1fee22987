"""Facts derived from the audit log for the dashboard (engine.analytics.figures.refresh)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Index,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.db.models.base import Base, DateTime


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
