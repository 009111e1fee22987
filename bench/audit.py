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
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.command_cost import RATIO_TARGET, compare
from bench.engine import START, Clock, database, day, describe, table
from engine.audit import anchors as audit_anchors
from engine.audit import replay
from engine.audit import verify as audit_verify
from engine.bootstrap import bootstrap
from engine.bpmn.deploy import deploy
from engine.config import EngineConfig
from engine.context import Services
from engine.org.directory import ADMINS, directory
from engine.org.importer import import_org, parse_yaml
from engine.requests.requests import submit_request
from engine.workflow.instances import complete_task

ROOT = Path(__file__).resolve().parent.parent
SPACING = timedelta(minutes=45)  # between two filings: at most 992 requests a month (999 allowed)
STEP = timedelta(seconds=20)  # between two commands of one request
COST_HEADERS = ["path", "commands/run", "ms/command", "ratio", "target"]
REPEATS = 3  # verify and anchor are measured this many times, the best shown


def _inputs(filed: datetime) -> dict[str, dict]:
    plan = [{"title": "物料设计", "dept": "MKT", "owner": "songyu", "start": day(filed, 7), "end": day(filed, 18),
             "standard": "海报3张，符合VI规范"},
            {"title": "功能说明", "dept": "PRD", "owner": "qianyun", "start": day(filed, 7), "end": day(filed, 25),
             "standard": "3款产品的功能说明"}]
    return {
        "dept_head_signoff": {"signoff_decision": "同意", "signoff_comment": "同意提交"},
        "admin_review": {"review_decision": "通过", "review_comment": "信息完整，可行"},
        "dispatch_lead": {"lead_dept": "MKT", "pmo_owner": "xiaozhou", "dispatch_note": "请牵头"},
        "lead_confirm": {"lead_decision": "确认接收"},
        "collect_feedback": {"feedback_content": "可按期配合", "feedback_suggested_date": day(filed, 8)},
        "organise_coordination": {"coordination_mode": "在线讨论（不开会）"},
        "write_plan": {"plan_tasks": plan, "risk_plan": "若功能说明延迟，提前3天通知市场部"},
        "approve_plan": {"approval_decision": "同意", "approval_comment": "同意方案"},
        "execute_task": {"work_outcome": "提交成果", "deliverable_summary": "按交付标准完成",
                         "progress_status": "已完成"},
        "accept_deliverable": {"acceptance_result": "验收通过"},
        "archive_request": {"archive_complete": True, "archive_note": "申请表、方案、成果、验收报告已归档"},
        "rate_satisfaction": {"satisfaction": 5, "satisfaction_comment": "响应及时"},
        "retrospective": {"retro_participants": ["MKT", "PRD", "SAL"], "retro_goal": "销售额同比增长30%",
                          "retro_result": "销售额同比增长35%", "retro_highlights": "在线协调一次定分工",
                          "retro_problems": "客户数据提供较晚", "retro_improvements": "数据需求提前10天提出"},
        "distill_lessons": {"lesson_title": "大促协作：数据需求提前", "lesson_body": "客户数据需预留保密审核时间",
                            "lesson_tags": "大促,数据", "recognised_depts": ["PRD"]},
    }


def _request(filed: datetime) -> dict:
    return {"request_type": "项目协作", "title": f"大促跨部门协作 {filed:%m%d%H%M}",
            "background": "市场、产品、销售协同",
            "goal": "销售额同比增长30%", "involved_depts": ["MKT", "PRD", "SAL"], "details": "产品部提供功能说明",
            "expected_date": day(filed, 48), "priority": "高", "urgency": "紧急", "contact": "13800000000"}


def _actor(ctx: Services, assignee: str | None, users: str, groups: str, element: str) -> str:
    if assignee:
        return assignee
    if element in ("dispatch_lead", "archive_request"):
        return "xiaozhou"  # the admin who follows the request up
    if users:
        return users.split(",")[0]
    members = [m for g in groups.split(",") if g for m in directory(ctx).members(g)]
    return members[0]


def carry_through(ctx: Services, clock: Clock) -> int:
    """File one request and complete every task it opens until it ends; the commands it took."""
    filed = clock.now
    inputs = _inputs(filed)
    iid = submit_request(ctx, "xiaowang", _request(filed)).instance_id
    status, commands = "running", 1
    for _ in range(60):
        with ctx.db.transaction(write=False) as tx:
            rows = tx.all("SELECT task_id, element_id, assignee, candidate_users, candidate_groups FROM inbox_task "
                          "WHERE instance_id = ? ORDER BY created_at, task_id", (iid,))
        if not rows:
            break
        for task_id, element, assignee, users, groups in rows:
            clock.now += STEP
            status = complete_task(ctx, task_id, _actor(ctx, assignee, users, groups, element), inputs[element]).status
            commands += 1
    if status != "completed":
        raise RuntimeError(f"request {iid} ended {status}")
    return commands


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


def set_up(ctx: Services) -> None:
    import_org(ctx, parse_yaml((ROOT / "demo" / "org.yaml").read_text("utf-8")), "setup", bootstrap=True)
    deploy(ctx, {p.name: p.read_bytes() for p in sorted((ROOT / "processes").glob("*.bpmn"))}, "lijingli")
    assert directory(ctx).members(ADMINS)


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
