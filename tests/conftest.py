"""Shared fixtures: a fresh database per test (SQLite, and PostgreSQL when a URL is given)."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from engine.bootstrap import bootstrap
from engine.config import EngineConfig

FIXTURES = Path(__file__).parent / "fixtures" / "bpmn"
PG_URL = os.environ.get("XIEZUO_TEST_DATABASE_URL")


class FakeClock:
    """A clock the test moves by hand: tests never sleep."""

    def __init__(self, start: datetime | None = None):
        self.now = start or datetime(2026, 9, 30, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _backends():
    yield pytest.param("sqlite", id="sqlite")
    yield pytest.param("postgres", id="postgres", marks=pytest.mark.postgres)


@pytest.fixture(params=list(_backends()))
def db_url(request, tmp_path):
    """A URL of an empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'xiezuo.db'}"
        return
    if not PG_URL:
        pytest.skip("XIEZUO_TEST_DATABASE_URL is not set")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def ctx(db_url, clock):
    """Engine services on a fresh database with the test's clock."""
    services = bootstrap(EngineConfig(database_url=db_url, clock=clock, script_time_limit=0.5))
    yield services
    services.db.dispose()


def fixture_files(*names: str) -> dict[str, bytes]:
    return {name: (FIXTURES / name).read_bytes() for name in names}
