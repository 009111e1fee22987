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


def insert_sql(model: type[Base], *columns: str) -> str:
    """INSERT INTO the model's table (columns) VALUES (?, ...): the statement a command queues,
    built from the table's definition, so a column that is not there fails at import."""
    _check(model, columns)
    return (f"INSERT INTO {model.__tablename__} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})")


def update_sql(model: type[Base], columns: tuple[str, ...], where: tuple[str, ...]) -> str:
    """UPDATE the model's table SET columns = ? WHERE where = ? (all), checked like insert_sql."""
    _check(model, (*columns, *where))
    return (f"UPDATE {model.__tablename__} SET {', '.join(f'{c} = ?' for c in columns)} "
            f"WHERE {' AND '.join(f'{c} = ?' for c in where)}")


def _check(model: type[Base], columns: tuple[str, ...]) -> None:
    unknown = [c for c in columns if c not in model.__table__.c]
    if unknown:
        raise KeyError(f"{model.__tablename__} has no column {', '.join(unknown)}")
