"""The collaboration requests' own rows: numbering and the summary lists and filters read."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.db.models.base import Base, DateTime


class RequestCounter(Base):
    """The last number handed out per prefix and month (XMBG-YYYYMM###), taken under a row lock."""

    __tablename__ = "request_counter"
    period: Mapped[str] = mapped_column(String(32), primary_key=True)  # PREFIX-YYYYMM
    last_number: Mapped[int] = mapped_column(Integer)


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
