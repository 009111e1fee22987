"""The command path's transaction: plain DBAPI statements on one pooled connection.

A command (start, complete, claim, ...) runs a dozen small statements. Through the ORM they cost
several times what SpiffWorkflow spends on the step itself, so the command path writes its SQL
once, with `?` placeholders, and runs it on the DBAPI cursor of a connection from SQLAlchemy's
pool (see Database.transaction): same pool, same connection set-up, same schema. Inserts that only need to land
before the commit are queued and sent with one executemany per statement. Everything else (lists,
reports, deploys) keeps using the ORM.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime


class Tx:
    """One open transaction; queued inserts are flushed, in the order first queued, by flush()."""

    def __init__(self, cursor, postgres: bool, integrity_error: type[Exception]):
        self.cursor = cursor
        self.postgres = postgres
        self.integrity_error = integrity_error
        self._queued: dict[str, list[Sequence]] = {}
        self._pg_sql: dict[str, str] = {}

    def _sql(self, sql: str) -> str:
        if not self.postgres:
            return sql
        found = self._pg_sql.get(sql)
        if found is None:
            found = self._pg_sql[sql] = sql.replace("?", "%s")
        return found

    def run(self, sql: str, params: Sequence = ()) -> int:
        """Execute one statement; the number of rows it changed."""
        self.cursor.execute(self._sql(sql), params)
        return self.cursor.rowcount

    def one(self, sql: str, params: Sequence = ()) -> tuple | None:
        self.cursor.execute(self._sql(sql), params)
        return self.cursor.fetchone()

    def all(self, sql: str, params: Sequence = ()) -> list[tuple]:
        self.cursor.execute(self._sql(sql), params)
        return self.cursor.fetchall()

    def many(self, sql: str, rows: Iterable[Sequence]) -> None:
        rows = list(rows)
        if rows:
            self.cursor.executemany(self._sql(sql), rows)

    def queue(self, sql: str, row: Sequence) -> None:
        """Run `sql` with `row` before the commit, batched with the other rows of `sql`.

        For writes whose outcome the command does not read back; they run in the order their
        statements were first queued, after the instance row is written.
        """
        self._queued.setdefault(sql, []).append(row)

    def flush(self) -> None:
        queued, self._queued = self._queued, {}
        if not queued:
            return
        if not self.postgres:
            for sql, rows in queued.items():
                self.many(sql, rows)
            return
        # One pipeline: every queued statement reaches the server in a single round trip.
        with self.cursor.connection.pipeline():
            for sql, rows in queued.items():
                self.cursor.executemany(self._sql(sql), rows)

    def in_list(self, values: Sequence) -> str:
        """Placeholders for `IN (...)` over `values`."""
        return ",".join("?" * len(values))

    def stamp(self, value: datetime | None):
        """A timestamp as the column stores it: naive UTC (a fixed-width string on SQLite)."""
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        # On SQLite the text SQLAlchemy's DateTime writes and reads: "YYYY-MM-DD HH:MM:SS.ffffff".
        return value if self.postgres else value.isoformat(" ", "microseconds")

    @staticmethod
    def day(value) -> date:
        """A stored date back as a date (SQLite hands back its ISO text)."""
        return date.fromisoformat(value) if isinstance(value, str) else value

    @staticmethod
    def when(value) -> datetime | None:
        """A stored timestamp back as an aware UTC datetime."""
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC)
