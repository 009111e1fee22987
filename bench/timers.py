"""Timer benchmark: how fast the sweep fires due timers among many that are not due, and proof that
it never loads an instance whose timer is not due.

    .venv/bin/python -m bench.timers [--due N] [--not-due N] [--database-url URL] [--json PATH]

Two databases are generated through the engine services (start_instance of a process waiting on a
timer, tests/fixtures/bpmn/timer_at.bpmn), on a hand-moved clock:
- the baseline: N instances (default 10,000) whose timers are due, and nothing else;
- the measured one: the same N due instances interleaved with M (default 90,000) whose timers are due
  in 30 days.
Both are then swept by the timer sweep (engine.workflow.timers.run_due_timers, as a background worker
calls it) on fresh services, as a worker process that never saw those instances would, in alternating
chunks of 500 so that a slow moment of the machine hits both: time to fire all, fired per second,
and the ratio of the two rates (target >= 0.8: the timers that are not
due must not slow the sweep). Every instance the sweep loads is recorded: the proof is that this set
equals the due instances, that every not-due instance's row is unchanged (lock version), and the
sweep query's plan on the next_due_at index. Generating 100,000 instances takes some minutes (about
4 ms each on SQLite).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.engine import START, Clock, database, describe, table
from engine.bootstrap import bootstrap
from engine.bpmn.deploy import deploy
from engine.config import EngineConfig
from engine.context import Services
from engine.workflow.instances import start_instance
from engine.workflow.timers import run_due_timers

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "bpmn" / "timer_at.bpmn"
DUE_AT = START + timedelta(hours=1)
NOT_DUE_AT = START + timedelta(days=30)
SWEEP_AT = START + timedelta(hours=2)
RATIO_TARGET = 0.8


def generate(url: str, due: int, not_due: int, progress: bool) -> tuple[set[str], dict[str, int]]:
    """Start the instances; the ids of the due ones and the lock version of every not-due one."""
    clock = Clock()
    ctx = bootstrap(EngineConfig(database_url=url, clock=clock))
    try:
        deploy(ctx, {"timer_at.bpmn": FIXTURE.read_bytes()}, "bench")
        total = due + not_due
        every = max(1, round(total / due)) if due else 0  # the due ones spread through the table
        due_ids: set[str] = set()
        started = time.perf_counter()
        for n in range(total):
            is_due = len(due_ids) < due and (n % every == 0 or total - n <= due - len(due_ids))
            at = DUE_AT if is_due else NOT_DUE_AT
            result = start_instance(ctx, "timer_at", "bench", {"due": at.isoformat()}, f"TIMER-{n:06d}")
            if is_due:
                due_ids.add(result.instance_id)
            if progress and (n + 1) % 5000 == 0:
                rate = (n + 1) / (time.perf_counter() - started)
                print(f"  generated {n + 1:,}/{total:,} ({rate:,.0f}/s)", file=sys.stderr, flush=True)
        with ctx.db.transaction(write=False) as tx:
            versions = {i: v for i, v in tx.all("SELECT id, lock_version FROM process_instance") if i not in due_ids}
        return due_ids, versions
    finally:
        ctx.db.dispose()


def sweep_plan(ctx: Services) -> str:
    """The plan of the sweep's query (engine.workflow.store.next_due_row)."""
    sql = ("SELECT id FROM process_instance WHERE status = 'running' AND next_due_at <= :now "
           "ORDER BY next_due_at LIMIT 1")
    with ctx.db.engine.connect() as conn:
        if ctx.db.is_sqlite:
            rows = conn.execute(text("EXPLAIN QUERY PLAN " + sql), {"now": "2026-11-02 03:00:00.000000"}).all()
            return "; ".join(str(r[-1]) for r in rows)
        rows = conn.execute(text("EXPLAIN " + sql), {"now": SWEEP_AT}).all()
        return "; ".join(r[0].strip() for r in rows)


class Sweeper:
    """Fresh services on one generated database, as a worker process that never saw its instances
    would be, with every instance load recorded."""

    def __init__(self, url: str, due_ids: set[str], versions: dict[str, int]):
        clock = Clock()
        clock.now = SWEEP_AT
        self.ctx = bootstrap(EngineConfig(database_url=url, clock=clock), migrate=False)
        self.due_ids, self.versions = due_ids, versions
        self.loaded: list[str] = []
        self.fired: list[str] = []
        self.seconds = 0.0
        self.plan = sweep_plan(self.ctx)
        load = self.ctx.store.load

        def recording_load(tx, row, script_engine):
            self.loaded.append(row.id)
            return load(tx, row, script_engine)

        self.ctx.store.load = recording_load

    def step(self, limit: int) -> bool:
        """Fire up to `limit` due timers; whether any were left."""
        started = time.perf_counter()
        fired = run_due_timers(self.ctx, SWEEP_AT, limit=limit)
        self.seconds += time.perf_counter() - started
        self.fired += fired
        return bool(fired)

    def result(self) -> dict[str, Any]:
        with self.ctx.db.transaction(write=False) as tx:
            after = {i: v for i, v in tx.all("SELECT id, lock_version FROM process_instance") if i in self.versions}
            timer_events = tx.one("SELECT count(*) FROM audit_event WHERE event_type = 'timer_fired'")[0]
        self.ctx.db.dispose()
        return {"due": len(self.due_ids), "not_due": len(self.versions), "fired": len(self.fired),
                "seconds": self.seconds, "fired_per_s": len(self.fired) / self.seconds if self.seconds else 0.0,
                "loaded": len(self.loaded),
                "loaded_equals_due": set(self.loaded) == self.due_ids and len(self.loaded) == len(self.due_ids),
                "fired_equals_due": set(self.fired) == self.due_ids, "timer_events": timer_events,
                "not_due_untouched": after == self.versions, "plan": self.plan}


def sweep_both(baseline: Sweeper, measured: Sweeper, chunk: int) -> None:
    """Sweep the two databases in alternating chunks, so a slow moment of the machine hits both."""
    busy = [baseline, measured]
    while busy:
        busy = [s for s in busy if s.step(chunk)]


def report(doc: dict[str, Any]) -> str:
    rows = [[name, r["due"], r["not_due"], r["fired"], r["seconds"], r["fired_per_s"], r["loaded"]]
            for name, r in (("baseline", doc["baseline"]), ("measured", doc["measured"]))]
    out = [f"Xiezuo timer bench on {doc['backend']}\n",
           table("Sweeping all due timers with fresh services (a worker that never saw these instances), "
                 "the two databases in alternating chunks",
                 ["run", "due", "not due", "fired", "seconds", "fired/s", "instances loaded"], rows)]
    m = doc["measured"]
    checks = [
        ["rate with not-due timers / baseline rate", f"{doc['ratio']:.3f}", f">= {RATIO_TARGET}",
         "PASS" if doc["ratio"] >= RATIO_TARGET else "MISS"],
        ["instances loaded = the due ones", str(m["loaded_equals_due"]), "True", "PASS" if m["loaded_equals_due"]
         else "MISS"],
        ["every not-due instance's row unchanged", str(m["not_due_untouched"]), "True",
         "PASS" if m["not_due_untouched"] else "MISS"],
        ["each due timer fired once (audit events)", f"{m['timer_events']:,}", f"{m['due']:,}",
         "PASS" if m["timer_events"] == m["due"] and m["fired_equals_due"] else "MISS"],
    ]
    out.append(table("Targets and proof", ["check", "value", "expected", "result"], checks))
    out.append(f"Sweep query plan: {m['plan']}\n")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.timers", description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", help="PostgreSQL (a fresh schema per run) or a new SQLite file")
    ap.add_argument("--due", type=int, default=10_000, help="instances whose timers are due (default 10,000)")
    ap.add_argument("--not-due", type=int, default=90_000, help="instances whose timers are not (default 90,000)")
    ap.add_argument("--chunk", type=int, default=500, help="timers fired in one go before the other database's turn")
    ap.add_argument("--json", type=Path, help="write the JSON document here")
    ap.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = ap.parse_args(argv)
    with database(args.database_url) as base_url, database(args.database_url) as url:
        baseline = Sweeper(base_url, *generate(base_url, args.due, 0, not args.quiet))
        measured = Sweeper(url, *generate(url, args.due, args.not_due, not args.quiet))
        backend = describe(measured.ctx)
        sweep_both(baseline, measured, args.chunk)
        baseline, measured = baseline.result(), measured.result()
    ratio = measured["fired_per_s"] / baseline["fired_per_s"] if baseline["fired_per_s"] else 0.0
    doc = {"backend": backend, "baseline": baseline, "measured": measured, "ratio": ratio}
    print(report(doc))
    if args.json:
        args.json.write_text(json.dumps(doc, indent=2))
    ok = (ratio >= RATIO_TARGET and measured["loaded_equals_due"] and measured["not_due_untouched"]
          and measured["timer_events"] == measured["due"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
