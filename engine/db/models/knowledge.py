"""The knowledge base's tables: lessons, the guide and its revisions, recognitions."""

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

from engine.db.models.base import Base, DateTime


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
