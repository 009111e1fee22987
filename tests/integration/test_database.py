"""The embedded database's durability: an acknowledged commit is on disk unless told otherwise."""

from __future__ import annotations

import pytest

from engine.bootstrap import bootstrap
from engine.config import EngineConfig
from engine.db.database import Database

LEVELS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def _synchronous(db: Database) -> str:
    with db.transaction(write=False) as tx:
        return LEVELS[tx.one("PRAGMA synchronous")[0]]


def test_sqlite_syncs_every_commit_by_default(tmp_path):
    services = bootstrap(EngineConfig(database_url=f"sqlite:///{tmp_path / 'x.db'}"))
    try:
        assert _synchronous(services.db) == "FULL"
    finally:
        services.db.dispose()


def test_the_faster_setting_is_taken_from_the_configuration(tmp_path):
    config = EngineConfig.from_environ({"XIEZUO_SQLITE_SYNCHRONOUS": "normal"},
                                       database_url=f"sqlite:///{tmp_path / 'x.db'}")
    services = bootstrap(config)
    try:
        assert _synchronous(services.db) == "NORMAL"
    finally:
        services.db.dispose()


def test_an_unknown_setting_is_refused():
    with pytest.raises(ValueError, match="FULL, NORMAL"):
        Database("sqlite://", sqlite_synchronous="OFF")
