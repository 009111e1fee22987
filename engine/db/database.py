"""Connections and the unit of work: one transaction per command, rolled back by default.

Inside `one_connection()` (a web request) the units of work share one pooled connection, taken from
the pool (and pinged) on first use and given back when the block ends, so a page costs one checkout
instead of one per read. Its reads share one read-only transaction, ended before a write and at the
end of the block; each write is still its own transaction. A unit that starts while another runs on
the connection (a read inside a command's transaction) takes a connection of its own, as outside.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from engine.db.tx import Tx

SYNCHRONOUS = ("FULL", "NORMAL")
_log = logging.getLogger(__name__)


def _sqlite_pragmas(synchronous: str):
    def on_connect(dbapi_conn, _record) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see _sqlite_begin).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit returns once the WAL is on disk, so an acknowledged command survives a power
        # cut; NORMAL syncs only at checkpoints and may lose the last commits (faster, less durable).
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()
    return on_connect


def _sqlite_begin(conn) -> None:
    # Commands that write take SQLite's write lock up front, so two commands on one instance run
    # one after the other instead of failing late with "database is locked"; reads stay deferred.
    mode = "IMMEDIATE" if conn.get_execution_options().get("xiezuo_write") else "DEFERRED"
    conn.exec_driver_sql(f"BEGIN {mode}")


class CommitWatcher(Protocol):
    """Joins the write transactions of a block of code (see watching_commits)."""

    def before_commit(self, tx: Tx) -> None: ...

    def after_commit(self) -> None: ...


_WATCHER: ContextVar[CommitWatcher | None] = ContextVar("xiezuo_commit_watcher", default=None)


@contextmanager
def watching_commits(watcher: CommitWatcher) -> Iterator[None]:
    """Inside the block, `watcher` writes in each write transaction just before it commits (so its rows
    and the command's are all or nothing) and hears of each commit after it happened."""
    token = _WATCHER.set(watcher)
    try:
        yield
    finally:
        _WATCHER.reset(token)


class _Shared:
    """The connection the units of work of one block share (see one_connection)."""

    def __init__(self, db: Database):
        self.db = db
        self.conn: Connection | None = None  # taken from the pool on first use
        self.reading = False  # a read transaction is open (reads join it; a write ends it first)
        self.depth = 0  # reads running now (a read inside a read joins the outer one)
        self.failed = False  # a read failed: its transaction ends with the outermost read
        self.busy = False  # a write runs on the connection: any unit it starts takes its own
        self.stale = False  # a write elsewhere committed while the reads' transaction was open

    def connection(self) -> Connection:
        if self.conn is None:
            self.conn = self.db.engine.connect()
        return self.conn

    def begin_reading(self) -> Connection:
        conn = self.connection()
        if self.reading and self.stale and self.depth == 0:
            self.end_reading()
        if not self.reading:
            if self.db.is_postgres:  # BEGIN READ ONLY: a read unit cannot write, so ending with COMMIT is safe
                conn.connection.dbapi_connection.read_only = True
            conn.begin()
            self.reading, self.stale, self.failed = True, False, False
        return conn

    def end_reading(self) -> None:
        """End the reads' transaction: COMMIT on PostgreSQL (read-only; a ROLLBACK would make psycopg
        drop its prepared statements), ROLLBACK on SQLite (a read never wrote)."""
        if not self.reading:
            return
        self.reading = False
        conn = self.conn
        assert conn is not None
        try:
            if self.failed or not self.db.is_postgres:
                conn.rollback()
            else:
                conn.commit()
        finally:
            if self.db.is_postgres and not conn.invalidated:
                conn.connection.dbapi_connection.read_only = None

    def close(self) -> None:
        """End the reads' transaction and give the connection back. The block's work is done by now:
        a connection that fails to end a read is dropped from the pool, not the block's outcome."""
        try:
            self.end_reading()
        except (DBAPIError, self.db._dbapi_error) as exc:
            _log.warning("a shared connection failed to end its read transaction, dropped: %s", exc)
            if self.conn is not None:
                self.conn.invalidate()
        finally:
            if self.conn is not None:
                self.conn.close()
                self.conn = None


_SHARED: ContextVar[_Shared | None] = ContextVar("xiezuo_shared_connection", default=None)


class Database:
    """The engine's database: SQLite (WAL) by default, PostgreSQL when the URL says so."""

    def __init__(self, url: str, echo: bool = False, sqlite_synchronous: str = "FULL"):
        if sqlite_synchronous not in SYNCHRONOUS:
            raise ValueError(f"sqlite synchronous must be one of {', '.join(SYNCHRONOUS)}, not {sqlite_synchronous!r}")
        self.url = url
        kwargs: dict = {"echo": echo, "future": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine: Engine = create_engine(url, **kwargs)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self.is_postgres = self.engine.dialect.name == "postgresql"
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas(sqlite_synchronous))
            event.listen(self.engine, "begin", _sqlite_begin)
        self._integrity_error = self.engine.dialect.loaded_dbapi.IntegrityError
        self._dbapi_error = self.engine.dialect.loaded_dbapi.Error
        writer = self.engine.execution_options(xiezuo_write=True)
        self._read = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._write = sessionmaker(writer, expire_on_commit=False, autoflush=False)

    # --- one connection for a block of units (a web request) -----------------------------------

    @contextmanager
    def one_connection(self) -> Iterator[None]:
        """The units of work of the block share one pooled connection (see the module's text)."""
        token = self.share_connection()
        try:
            yield
        finally:
            self.release_connection(token)

    def share_connection(self) -> object:
        """Open a one_connection block without a with-statement (a web request's hooks); end it with
        `release_connection` and what this returned. Inside a block of this database, nothing changes."""
        outer = _SHARED.get()
        return None if outer is not None and outer.db is self else _SHARED.set(_Shared(self))

    def release_connection(self, token: object) -> None:
        """Close the block `share_connection` opened: the reads' transaction ends, the connection goes back."""
        if token is None:
            return
        shared = _SHARED.get()
        try:
            if shared is not None and shared.db is self:
                shared.close()
        finally:
            _SHARED.reset(token)  # type: ignore[arg-type]

    def _shared(self) -> _Shared | None:
        shared = _SHARED.get()
        return shared if shared is not None and shared.db is self and not shared.busy else None

    @contextmanager
    def _shared_read(self, shared: _Shared) -> Iterator[Connection]:
        conn = shared.begin_reading()
        shared.depth += 1
        try:
            yield conn
        except (DBAPIError, self._dbapi_error):
            shared.failed = True  # on PostgreSQL a failed statement aborts the transaction
            raise
        finally:
            shared.depth -= 1
            if shared.failed and shared.depth == 0:
                shared.end_reading()

    @contextmanager
    def _shared_write(self, shared: _Shared) -> Iterator[Connection]:
        """The shared connection for one write: the reads' transaction ended first, so the write and
        the reads after it see what was committed meanwhile."""
        shared.end_reading()
        conn = shared.connection()
        shared.busy = True
        try:
            yield conn
        finally:
            shared.busy = False

    def _written(self) -> None:
        """A write committed on a connection of its own while a block shares one: its reads start afresh."""
        shared = _SHARED.get()
        if shared is not None and shared.db is self:
            shared.stale = True

    # --- units of work ------------------------------------------------------------------------

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Tx]:
        """The command path's unit of work (see engine.db.tx): commits only if the block ends normally.

        It takes a pooled DBAPI connection and begins the transaction itself (on SQLite, writers
        take the write lock up front as in _sqlite_begin), skipping the Connection layer. Inside
        one_connection a reading unit (write=False) joins the block's read transaction.
        """
        shared = self._shared()
        if shared is not None and (not write or shared.depth == 0):
            if not write:
                with self._shared_read(shared) as conn:
                    cursor = conn.connection.dbapi_connection.cursor()
                    try:
                        yield Tx(cursor, self.is_postgres, self._integrity_error)
                    finally:
                        cursor.close()
                return
            with self._shared_write(shared) as conn, self._raw_transaction(conn.connection, write, close=False) as tx:
                yield tx
            return
        with self._raw_transaction(self.engine.raw_connection(), write, close=True) as tx:
            yield tx
        if write:
            self._written()

    @contextmanager
    def _raw_transaction(self, raw, write: bool, close: bool) -> Iterator[Tx]:
        try:
            cursor = raw.cursor()
            if self.is_sqlite:
                cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            tx = Tx(cursor, self.is_postgres, self._integrity_error)
            yield tx
            tx.flush()
            watcher = _WATCHER.get() if write else None
            if watcher is not None:
                watcher.before_commit(tx)
                tx.flush()
            raw.commit()
            if watcher is not None:
                watcher.after_commit()
        except BaseException:
            raw.rollback()
            raise
        finally:
            if close:
                raw.close()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A unit of work that changes data: commits only if the block ends normally."""
        shared = self._shared()
        if shared is not None and shared.depth == 0:
            with self._shared_write(shared) as conn:
                conn.execution_options(xiezuo_write=True)  # on SQLite: BEGIN IMMEDIATE (_sqlite_begin)
                try:
                    with self._write_session(self._write(bind=conn)) as session:
                        yield session
                finally:
                    conn.execution_options(xiezuo_write=False)
            return
        with self._write_session(self._write()) as session:
            yield session
        self._written()

    @contextmanager
    def _write_session(self, session: Session) -> Iterator[Session]:
        try:
            yield session
            watcher = _WATCHER.get()
            if watcher is not None:
                session.flush()
                cursor = session.connection().connection.cursor()  # the session's own transaction
                try:
                    watcher.before_commit(Tx(cursor, self.is_postgres, self._integrity_error))
                finally:
                    cursor.close()
            session.commit()
            if watcher is not None:
                watcher.after_commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work; inside one_connection it joins the block's read transaction."""
        shared = self._shared()
        if shared is not None:
            with self._shared_read(shared) as conn:
                # rollback_only: the session neither commits nor (being closed, not rolled back) ends it
                session = self._read(bind=conn, join_transaction_mode="rollback_only")
                try:
                    yield session
                finally:
                    session.close()
            return
        session = self._read()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def create_all(self) -> None:
        """Create the schema through the migrations (the same path as production)."""
        from engine.db.migrate import upgrade
        upgrade(self)

    def dispose(self) -> None:
        self.engine.dispose()
