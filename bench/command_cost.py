"""What one command of a collaboration request costs next to one of the engine bench's 8-task run.

Both run in the same process on one fresh database, in alternating rounds, best round kept: the
ratio, not the milliseconds, is what carries from one machine to another. A collaboration command
does more (assignments from the organisation, records, notices, lessons), within 2x is the target.
"""

from __future__ import annotations

import time
from typing import Any

from bench.collaboration import SPACING, carry_through, set_up
from bench.engine import LOOP, SEQUENTIAL, START, USER, Clock, database, engine_run, fixture
from engine.bootstrap import bootstrap
from engine.bpmn.deploy import deploy
from engine.config import EngineConfig
from tests.helpers import add_user

RATIO_TARGET = 2.0  # ms per collaboration command over ms per 8-task bench command, at most
ENGINE_COMMANDS = 9  # a start and 8 completions


def compare(database_url: str | None, rounds: int = 3, requests: int = 3, runs: int = 10) -> list[list[Any]]:
    """Rows of (path, commands, ms per command, ratio to the 8-task command) for a table."""
    clock = Clock()
    with database(database_url) as url:
        # NORMAL: the cost of the commands themselves, not of the disk's flush that both pay once each.
        ctx = bootstrap(EngineConfig(database_url=url, clock=clock, script_time_limit=30.0,
                                     sqlite_synchronous="NORMAL"))
        try:
            set_up(ctx)
            deploy(ctx, {f"{pid}.bpmn": fixture(pid) for pid in (SEQUENTIAL, LOOP)}, USER)
            add_user(ctx, USER, "team")
            clock.now = START
            carry_through(ctx, clock)  # warm: specs parsed, caches filled, jieba loaded
            engine_run(ctx)
            best = {"engine": float("inf"), "collaboration": float("inf")}
            commands = 0
            for _ in range(rounds):
                started = time.perf_counter()
                for _ in range(runs):
                    engine_run(ctx)
                best["engine"] = min(best["engine"], (time.perf_counter() - started) / (runs * ENGINE_COMMANDS))
                started, commands = time.perf_counter(), 0
                for _ in range(requests):
                    clock.now += SPACING
                    commands += carry_through(ctx, clock)
                best["collaboration"] = min(best["collaboration"], (time.perf_counter() - started) / commands)
        finally:
            ctx.db.dispose()
    engine_ms, collab_ms = 1000 * best["engine"], 1000 * best["collaboration"]
    ratio = collab_ms / engine_ms
    return [[f"8-task bench ({SEQUENTIAL})", ENGINE_COMMANDS, engine_ms, 1.0, "baseline"],
            ["collaboration request", commands // requests, collab_ms, ratio,
             "PASS" if ratio <= RATIO_TARGET else "MISS"]]
