"""Connections and the unit of work: one transaction per command, rolled back by default."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from engine.db.tx import Tx

SYNCHRONOUS = ("FULL", "NORMAL")


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
        writer = self.engine.execution_options(xiezuo_write=True)
        self._read = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._write = sessionmaker(writer, expire_on_commit=False, autoflush=False)

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Tx]:
        """The command path's unit of work (see engine.db.tx): commits only if the block ends normally.

        It takes a pooled DBAPI connection and begins the transaction itself (on SQLite, writers
        take the write lock up front as in _sqlite_begin), skipping the Connection layer.
        """
        raw = self.engine.raw_connection()
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
            raw.close()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A unit of work that changes data: commits only if the block ends normally."""
        session = self._write()
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
        """A read-only unit of work."""
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
