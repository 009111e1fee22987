"""The collaboration requests' own rows: numbering and the summary lists and filters read."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Integer,
    String,
    Text,
    func,
    literal,
    or_,
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


# --- how lists read these rows ---------------------------------------------------------------

def number_order(column, descending: bool = False) -> tuple:
    """ORDER BY terms that sort request numbers of one month by value: past 999 a number is one
    character longer, so its length sorts before its text (XMBG-202612999 < XMBG-2026121000)."""
    terms = (func.length(column), column)
    return tuple(t.desc() for t in terms) if descending else terms


def of_department(dept: str):
    """A request of `dept`: filed by it, led by it or involving it (request_summary)."""
    listed = literal(",") + RequestSummary.involved_depts + literal(",")
    return or_(RequestSummary.requester_dept == dept, RequestSummary.lead_dept == dept,
               listed.contains(f",{dept},", autoescape=True))


def summary_conditions(request_type: str | None, urgency: str | None, department: str | None) -> list:
    """Conditions on request_summary for the filters lists and inboxes share."""
    wanted = []
    if request_type:
        wanted.append(RequestSummary.request_type == request_type)
    if urgency:
        wanted.append(RequestSummary.urgency == urgency)
    if department:
        wanted.append(of_department(department))
    return wanted
