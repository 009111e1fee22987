"""The organisation's tables: departments, people, groups, posts, absences, the calendar, accounts,
sessions and tokens."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.db.models.base import Base, DateTime


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
