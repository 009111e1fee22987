"""Audit benchmark: verify and replay-check throughput on completed collaboration requests.

    .venv/bin/python -m bench.audit [--instances N] [--database-url URL] [--keep FILE.db] [--json PATH]

Generates N (default 10,000) requests of the collaboration process and carries each through the
engine services to its end, as the demo users would: filed, signed off, reviewed, dispatched,
confirmed, three departments' feedback, coordinated online, a two-task plan approved by two heads,
each task delivered and accepted, archived, rated, reviewed in a retrospective, its lessons
distilled (21 commands each, with their records, inbox rows and audit chains). Then it measures,
in instances per second: `audit verify` over every chain and the anchors, `audit anchor`, and
`audit replay --all` (every instance re-executed from its record and compared with its state).
Last, the cost of one of its commands next to one of bench.engine's 8-task run (bench/command_cost.py).

The requests are spread over months on a hand-moved clock (numbers are XMBG-YYYYMM###, 999 a
month), each with dates relative to its own filing. Generating 10,000 takes a while: `--keep` keeps
the generated SQLite database in a file and reuses it when it already holds the requests.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.collaboration import SPACING, carry_through, set_up
from bench.command_cost import RATIO_TARGET, compare
from bench.engine import START, Clock, database, describe, table
from engine.audit import anchors as audit_anchors
from engine.audit import replay
from engine.audit import verify as audit_verify
from engine.bootstrap import bootstrap
from engine.config import EngineConfig
from engine.context import Services

COST_HEADERS = ["path", "commands/run", "ms/command", "ratio", "target"]
REPEATS = 3  # verify and anchor are measured this many times, the best shown


def generate(ctx: Services, clock: Clock, count: int, progress: bool) -> float:
    """Carry `count` requests through; seconds taken."""
    started = time.perf_counter()
    for n in range(count):
        clock.now = START + SPACING * n
        carry_through(ctx, clock)
        if progress and (n + 1) % 100 == 0:
            rate = (n + 1) / (time.perf_counter() - started)
            print(f"\rgenerated {n + 1:,}/{count:,} requests ({rate:.1f}/s)", end="", file=sys.stderr, flush=True)
    if progress and count >= 100:
        print(file=sys.stderr)
    return time.perf_counter() - started


def counts(ctx: Services) -> tuple[int, int, int]:
    with ctx.db.engine.connect() as conn:
        return tuple(conn.execute(text(sql)).scalar() for sql in (
            "SELECT count(*) FROM process_instance WHERE status = 'completed'",
            "SELECT count(*) FROM process_instance", "SELECT count(*) FROM audit_event"))


def timed(run, repeats: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    return best, result


def measure(ctx: Services, instances: int) -> list[dict]:
    rows = []
    seconds, report = timed(lambda: audit_verify.verify(ctx), REPEATS)
    if report["problems"]:
        raise RuntimeError(f"verify found problems: {report['problems'][:3]}")
    rows.append({"operation": "verify (chains)", "instances": instances, "seconds": seconds})
    seconds, made = timed(lambda: audit_anchors.make_anchor(ctx, "bench"), 1)
    rows.append({"operation": "anchor (first)", "instances": instances, "seconds": seconds})
    seconds, _ = timed(lambda: audit_anchors.make_anchor(ctx, "bench"), REPEATS)
    rows.append({"operation": "anchor (nothing moved)", "instances": instances, "seconds": seconds})
    seconds, report = timed(lambda: audit_verify.verify(ctx), REPEATS)
    if report["problems"] or report["anchors"] != 1 + REPEATS:
        raise RuntimeError(f"verify with anchors: {report['problems'][:3]}")
    rows.append({"operation": "verify (chains + anchors)", "instances": instances, "seconds": seconds})
    seconds, summary = timed(lambda: audit_verify.verify_and_record(ctx), 1)  # the nightly job: verify, then store
    if summary["failed"] or summary["anchors_ok"] is not True:
        raise RuntimeError(f"verify and record: {summary['failed'][:3]}")
    rows.append({"operation": "verify and record (nightly)", "instances": instances, "seconds": seconds})
    seconds, report = timed(lambda: replay.replay_check(ctx), 1)
    if report["mismatches"]:
        raise RuntimeError(f"replay check found mismatches: {report['mismatches'][:1]}")
    rows.append({"operation": "replay check", "instances": instances, "seconds": seconds})
    for row in rows:
        row["per_s"] = row["instances"] / row["seconds"]
        row["ms_per_instance"] = 1000 * row["seconds"] / row["instances"]
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.audit", description=__doc__.splitlines()[0])
    ap.add_argument("--instances", type=int, default=10_000, help="completed requests (default 10,000)")
    ap.add_argument("--database-url", help="PostgreSQL (fresh schema per run) or a new SQLite file")
    ap.add_argument("--keep", type=Path, help="a SQLite file to keep the generated requests in and reuse")
    ap.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = ap.parse_args(argv)
    if args.instances < 1:
        raise SystemExit("--instances must be at least 1")
    if args.keep and args.database_url:
        raise SystemExit("give --keep or --database-url, not both")
    clock = Clock()
    kept = args.keep is not None and args.keep.exists()
    with (database(None) if args.keep is None and args.database_url is None
          else database(args.database_url) if args.database_url else _kept(args.keep)) as url:
        # A generous script time limit: on a busy machine a one-line expression can take a second.
        ctx = bootstrap(EngineConfig(database_url=url, clock=clock, script_time_limit=30.0))
        try:
            if not kept:
                set_up(ctx)
            completed, total, _ = counts(ctx)
            if kept and completed < args.instances:
                raise SystemExit(f"{args.keep} holds {completed:,} completed requests, fewer than {args.instances:,}")
            generated = None
            if not kept:
                generated = generate(ctx, clock, args.instances, sys.stderr.isatty())
            completed, total, events = counts(ctx)
            with ctx.db.engine.begin() as conn:  # measured on the requests alone, without earlier anchors
                conn.execute(text("DELETE FROM audit_anchor_head"))
                conn.execute(text("DELETE FROM audit_anchor"))
            backend = describe(ctx)
            ctx.store.cache.clear()
            rows = measure(ctx, total)
        finally:
            ctx.db.dispose()
    doc = {"backend": backend, "instances": total, "completed": completed, "audit_events": events,
           "generated_seconds": generated, "results": rows}
    gen = (f"generated through the engine services in {generated:,.0f} s ({total / generated:,.1f} requests/s)"
           if generated else f"kept in {args.keep}")
    print(f"Xiezuo audit bench on {backend}: {total:,} completed collaboration requests, {events:,} audit events "
          f"({events / total:.1f} per request), {gen}\n")
    print(table(f"Throughput (best of {REPEATS} for verify and anchor, one replay check)",
                ["operation", "instances", "seconds", "instances/s", "ms/instance"],
                [[r["operation"], r["instances"], r["seconds"], r["per_s"], r["ms_per_instance"]] for r in rows]))
    # On a database of its own (a fresh schema, or a temporary SQLite file), measured after the rest.
    cost = compare(args.database_url if args.database_url and not args.database_url.startswith("sqlite") else None)
    doc["command_cost"] = [dict(zip(COST_HEADERS, row, strict=True)) for row in cost]
    print(table(f"Cost of a command, same process, best of alternating rounds (target: at most {RATIO_TARGET:g}x)",
                COST_HEADERS, cost))
    if args.json:
        args.json.write_text(json.dumps(doc, indent=2))
        print(f"JSON written to {args.json}")
    return 0


def _kept(path: Path):
    from contextlib import nullcontext

    return nullcontext(f"sqlite:///{path.resolve()}")


if __name__ == "__main__":
    sys.exit(main())
