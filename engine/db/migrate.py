"""Run the Alembic migrations against a Database, programmatically."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# Search structures made by hand in 0002 (FTS5 tables, an expression index): not in the models,
# and autogenerate must not propose dropping them.
HAND_MADE = ("knowledge_fts", "ix_knowledge_entry_search")


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """What autogenerate compares: everything but the hand-made search structures."""
    return not (reflected and compare_to is None and (name or "").startswith(HAND_MADE))


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


MIGRATION_LOCK = 0x58495A55  # PostgreSQL advisory lock key of schema upgrades ("XIZU")


def upgrade(db, revision: str = "head") -> None:
    """Bring the schema of `db` up to `revision`.

    Several processes may start at once on a new database (gunicorn's workers): the first to take
    the lock upgrades, the others wait for it and then find nothing left to do. On SQLite the
    transaction takes the write lock up front (BEGIN IMMEDIATE, which waits out the busy timeout);
    on PostgreSQL a transaction-scoped advisory lock serializes them.
    """
    cfg = alembic_config(db.url)
    with db.engine.execution_options(xiezuo_write=True).begin() as conn:
        if db.is_postgres:
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
