"""The column type every table's times use (one timestamp encoding) and the declarative base."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import DateTime as _DateTime
from sqlalchemy.orm import DeclarativeBase
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
