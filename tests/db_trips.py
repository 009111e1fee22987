"""What a block of code asks of the database, as the driver sends it: connections taken from the pool,
statements (SQLite) and round trips (PostgreSQL), and how many of them carry no data (transaction
control, the pool's liveness ping, dropping prepared statements).

The counting hooks into SQLAlchemy's pool events (`connect`, `checkout`) and, below SQLAlchemy, into
the driver: SQLite's statement trace and libpq's protocol trace. The command path runs its statements
on the DBAPI cursor (engine/db/tx.py), where SQLAlchemy's statement events do not see them; the
driver sees everything, the pool's ping on checkout included.

    trips = DatabaseTrips(ctx.db.engine)   # empties the pool: every connection from now on is traced
    with trips.count() as seen:
        client.get("/inbox")
    seen.checkouts, seen.trips, seen.empty, seen.statements
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import event
from sqlalchemy.engine import Engine

# What carries no data: transaction control, the pool's ping (";" on PostgreSQL), prepared statements dropped.
EMPTY = ("BEGIN", "COMMIT", "ROLLBACK", "DEALLOCATE", "SAVEPOINT", "RELEASE", ";", "SELECT 1")


def _empty(statement: str) -> bool:
    text = statement.strip().strip('"').strip().upper()
    return text == ";" or text == "" or any(text.startswith(word) for word in EMPTY if word != ";")


@dataclass
class Seen:
    """The counts of one block: connections checked out, round trips (on SQLite: statements, each a
    call into the library) and how many of those carry no data, with the statements in order."""

    checkouts: int = 0
    trips: int = 0
    empty: int = 0
    statements: list[str] = field(default_factory=list)

    @property
    def data(self) -> int:
        return self.trips - self.empty


class _PgTrace:
    """libpq's protocol trace of one connection, in a file of its own: a round trip is a run of messages
    the client sends (F) until the server answers (B)."""

    def __init__(self, dbapi_connection, folder: str):
        from psycopg import pq

        fd, self.path = tempfile.mkstemp(prefix="trace-", dir=folder)
        self.pgconn = dbapi_connection.pgconn
        self.pgconn.trace(fd)  # libpq owns fd from here (closed by untrace)
        self.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        self.mark = 0

    def lines(self) -> list[str]:
        with open(self.path, encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()

    def take(self, seen: Seen) -> None:
        """Count the round trips since the mark into `seen`, and move the mark."""
        lines = self.lines()
        new, self.mark = lines[self.mark:], len(lines)
        run: list[str] | None = None  # the statements of the current client run

        def close(run: list[str] | None) -> None:
            if run is not None:
                seen.trips += 1
                seen.empty += all(_empty(s) for s in run)

        for line in new:
            parts = line.split("\t")
            if len(parts) < 3:
                continue
            if parts[0] == "F":
                if run is None:
                    run = []
                if parts[2] in ("Query", "Parse"):
                    statement = parts[3] if len(parts) > 3 else ""
                    # Parse carries a statement name first: '"" "SELECT ..." 1 NNNN'
                    text = statement.split('" "', 1)[-1] if parts[2] == "Parse" else statement
                    run.append(text.strip().strip('"'))
                    seen.statements.append(run[-1])
                elif parts[2] == "Bind" and not run:
                    run.append(f"(prepared {parts[3].split()[1] if len(parts) > 3 else ''})")  # data, by a name
                    seen.statements.append(run[-1])
            elif run is not None:
                close(run)
                run = None
        close(run)

    def close(self) -> None:
        if not self.pgconn.status:  # CONNECTION_OK is 0
            self.pgconn.untrace()
        os.unlink(self.path)


class DatabaseTrips:
    """Counts for `engine`'s connections; created before the block it counts (it empties the pool)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self.folder = tempfile.mkdtemp(prefix="xiezuo-trips-")
        self.pg: list[_PgTrace] = []
        self.seen: Seen | None = None
        engine.dispose()  # the connections already made were not traced: new ones will be
        event.listen(engine, "connect", self._connect)
        event.listen(engine, "checkout", self._checkout)

    def _connect(self, dbapi_connection, _record) -> None:
        if self.postgres:
            self.pg.append(_PgTrace(dbapi_connection, self.folder))
        else:
            dbapi_connection.set_trace_callback(self._statement)

    def _statement(self, statement: str) -> None:
        if self.seen is not None:
            self.seen.trips += 1
            self.seen.empty += _empty(statement)
            self.seen.statements.append(statement)

    def _checkout(self, *_args) -> None:
        if self.seen is not None:
            self.seen.checkouts += 1

    @contextmanager
    def count(self) -> Iterator[Seen]:
        """The counts of the block (filled in when it ends)."""
        for trace in self.pg:
            trace.mark = len(trace.lines())
        self.seen = seen = Seen()
        try:
            yield seen
        finally:
            self.seen = None
            for trace in self.pg:
                trace.take(seen)

    def close(self) -> None:
        event.remove(self.engine, "connect", self._connect)
        event.remove(self.engine, "checkout", self._checkout)
        self.engine.dispose()
        for trace in self.pg:
            trace.close()
        os.rmdir(self.folder)
