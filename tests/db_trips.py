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
    reads = trips.statements(lambda s: "FROM revision" in s)   # a live list, cleared by .clear()
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import event
from sqlalchemy.engine import Engine

# What carries no data: transaction control, the pool's ping (";" on PostgreSQL), prepared statements dropped.
EMPTY = ("BEGIN", "COMMIT", "ROLLBACK", "DEALLOCATE", "SAVEPOINT", "RELEASE", "SELECT 1")
_PARSE = re.compile(r'^"(?P<name>[^"]*)" "(?P<text>.*)"(?: \S+)*$', re.DOTALL)
_BIND = re.compile(r'^"[^"]*" "(?P<name>[^"]*)"')


def _empty(statement: str) -> bool:
    text = statement.strip().upper()
    return text in ("", ";") or text.startswith(EMPTY)


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

    def messages(self) -> list[tuple[str, str, str]]:
        """(direction F or B, message type, content) of every message so far; a statement's text may
        span lines."""
        with open(self.path, encoding="utf-8", errors="replace") as f:
            lines = f.read().split("\n")
        found: list[list[str]] = []
        for line in lines:
            parts = line.split("\t", 3)
            if len(parts) >= 3 and parts[0] in ("F", "B") and parts[1].isdigit():
                found.append([parts[0], parts[2].strip(), parts[3].strip() if len(parts) > 3 else ""])
            elif found:
                found[-1][2] += "\n" + line
        return [(d, kind, content) for d, kind, content in found]

    def take(self, mark: int, seen: Seen) -> None:
        """Count into `seen` the round trips of the messages from number `mark` on."""
        messages = self.messages()
        prepared: dict[str, str] = {}
        run: list[str] | None = None  # the statements of the client's current run

        def close(run: list[str] | None) -> None:
            if run is not None:
                seen.trips += 1
                seen.empty += all(_empty(s) for s in run)

        for number, (direction, kind, content) in enumerate(messages):
            statement = None
            if direction == "F" and kind == "Query":
                statement = content.strip()[1:-1]
            elif direction == "F" and kind == "Parse" and (parsed := _PARSE.match(content)):
                statement = parsed["text"]
                if parsed["name"]:
                    prepared[parsed["name"]] = statement
            elif direction == "F" and kind == "Bind" and (bound := _BIND.match(content)) and bound["name"]:
                statement = prepared.get(bound["name"], bound["name"])  # a statement prepared before
            if number < mark:
                continue
            if direction == "F":
                run = [] if run is None else run
                if statement is not None:
                    run.append(statement)
                    seen.statements.append(statement)
            elif run is not None:
                close(run)
                run = None
        close(run)

    def close(self) -> None:
        if not self.pgconn.status:  # CONNECTION_OK is 0
            self.pgconn.untrace()
        os.unlink(self.path)


class Statements:
    """The statements `keep` selects among those sent since this was made or last cleared, as they go."""

    def __init__(self, trips: DatabaseTrips, keep: Callable[[str], bool]):
        self.trips, self.keep = trips, keep
        self.clear()

    def clear(self) -> None:
        self.mark = self.trips.mark()

    def _now(self) -> list[str]:
        return [s for s in self.trips.since(self.mark).statements if self.keep(s)]

    def __len__(self) -> int:
        return len(self._now())

    def __iter__(self):
        return iter(self._now())

    def __repr__(self) -> str:
        return repr(self._now())


class DatabaseTrips:
    """Counts for `engine`'s connections; created before the block it counts (it empties the pool)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self.folder = tempfile.mkdtemp(prefix="xiezuo-trips-")
        self.pg: list[_PgTrace] = []
        self.sqlite: list[str] = []  # every statement sent on SQLite, in order
        self.checkouts = 0
        engine.dispose()  # the connections already made were not traced: new ones will be
        event.listen(engine, "connect", self._connect)
        event.listen(engine, "checkout", self._checkout)

    def _connect(self, dbapi_connection, _record) -> None:
        if self.postgres:
            self.pg.append(_PgTrace(dbapi_connection, self.folder))
        else:
            dbapi_connection.set_trace_callback(self.sqlite.append)

    def _checkout(self, *_args) -> None:
        self.checkouts += 1

    def mark(self) -> tuple:
        """Where the counting stands now (since() counts from here)."""
        if self.postgres:
            return self.checkouts, {trace: len(trace.messages()) for trace in self.pg}
        return self.checkouts, len(self.sqlite)

    def since(self, mark: tuple) -> Seen:
        """What was asked of the database since `mark`."""
        checkouts, where = mark
        seen = Seen(checkouts=self.checkouts - checkouts)
        if self.postgres:
            for trace in self.pg:
                trace.take(where.get(trace, 0), seen)
            return seen
        seen.statements = self.sqlite[where:]
        seen.trips = len(seen.statements)
        seen.empty = sum(map(_empty, seen.statements))
        return seen

    @contextmanager
    def count(self) -> Iterator[Seen]:
        """The counts of the block (filled in when it ends)."""
        mark, seen = self.mark(), Seen()
        try:
            yield seen
        finally:
            found = self.since(mark)
            seen.checkouts, seen.trips, seen.empty, seen.statements = (found.checkouts, found.trips, found.empty,
                                                                       found.statements)

    def statements(self, keep: Callable[[str], bool]) -> Statements:
        """A live list of the statements `keep` selects, from now on."""
        return Statements(self, keep)

    def close(self) -> None:
        event.remove(self.engine, "connect", self._connect)
        event.remove(self.engine, "checkout", self._checkout)
        self.engine.dispose()
        for trace in self.pg:
            trace.close()
        os.rmdir(self.folder)
