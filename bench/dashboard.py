"""Dashboard benchmark: p95 of each dashboard query over many requests, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.dashboard [--requests N] [--keep FILE.db] [--database-url URL] [--json PATH]

Generates N (default 100,000) requests of the collaboration process through the engine services,
as the demo organisation would file and work on them: six requesting departments, urgencies,
two or three involved departments and a lead among them, a two-task plan, progress updates
(some with a risk), satisfaction scores, a few rejected at review; about one in five stops
somewhere on its way and stays open. Each command moves a hand-held clock on by a random
0.2-20 hours, so tasks are late or on time; requests are filed 45 minutes apart (at most 999
request numbers a month). Then `analytics.refresh` derives the dashboard's tables from the audit
log (timed), and every dashboard query runs `--repeat` times (default 40) for each reader: a
platform admin (every request) and a department head (their department's requests), over the
default period (the last 90 days) and over the last year; the p95 of each is printed against the
200 ms target. The knowledge page is measured the same way over the generated lessons, every other
one approved by a platform admin through the knowledge service (once, in the kept file): all
lessons, narrowed by request type and department, and searched by Chinese words.

Generation runs at about 9 requests per second in one process and 13 in two (`--workers 2`) on this
machine (2 cores): 100,000 took about 2.2 hours. `--keep FILE.db` keeps the generated SQLite
database and reuses it; a kept file holding fewer requests than --requests is carried on from where
it stopped, so the generation can be spread over several runs. `--database-url postgresql://...`
measures on PostgreSQL: the kept
file's tables (or a fresh generation when no --keep is given) are copied into a fresh schema,
dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager, nullcontext
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, select, text

from bench.engine import START, Clock, database, day, describe, table
from engine.analytics import figures as analytics
from engine.bootstrap import bootstrap
from engine.bpmn.deploy import deploy
from engine.config import EngineConfig
from engine.context import Services
from engine.db.models import Base
from engine.knowledge.browse import browse
from engine.knowledge.lessons import review_lesson
from engine.org.directory import directory
from engine.org.importer import import_org, parse_yaml
from engine.requests.records import post_progress
from engine.requests.requests import submit_request
from engine.workflow.instances import complete_task

ROOT = Path(__file__).resolve().parent.parent
SPACING = timedelta(minutes=45)
TARGET_MS = 200.0
REQUESTERS = {"MKT": "xiaowang", "PRD": "zhaojingli", "TEC": "sunhao", "SAL": "xuming", "LOG": "wuqiang",
              "CS": "tangmei"}
OWNERS = {"MKT": "songyu", "PRD": "qianyun", "TEC": "yangfan", "SAL": "xuming", "LOG": "wuqiang", "CS": "tangmei"}
HEAD = "chenzongjian"  # head of 产品部: the department head reader
ADMIN = "lijingli"


def _inputs(rng: random.Random, filed: datetime, depts: list[str], lead: str) -> dict[str, dict]:
    plan = [{"title": f"{d}任务", "dept": d, "owner": OWNERS[d], "start": day(filed, 7),
             "end": day(filed, 18 + 7 * i), "standard": "按计划交付"} for i, d in enumerate(depts[:2])]
    return {
        "dept_head_signoff": {"signoff_decision": "同意", "signoff_comment": "同意提交"},
        "admin_review": {"review_decision": "拒绝" if rng.random() < 0.05 else "通过", "review_comment": "审核意见"},
        "dispatch_lead": {"lead_dept": lead, "pmo_owner": "xiaozhou", "dispatch_note": "请牵头"},
        "lead_confirm": {"lead_decision": "确认接收"},
        "collect_feedback": {"feedback_content": "可按期配合", "feedback_suggested_date": day(filed, 8)},
        "organise_coordination": {"coordination_mode": "在线讨论（不开会）"},
        "write_plan": {"plan_tasks": plan, "risk_plan": "延迟时提前3天通知"},
        "approve_plan": {"approval_decision": "同意", "approval_comment": "同意方案"},
        "execute_task": {"work_outcome": "提交成果", "deliverable_summary": "按交付标准完成",
                         "progress_status": "已完成"},
        "accept_deliverable": {"acceptance_result": "验收通过"},
        "archive_request": {"archive_complete": True, "archive_note": "已归档"},
        "rate_satisfaction": {"satisfaction": rng.choice((3, 4, 4, 5, 5)), "satisfaction_comment": "评价"},
        "retrospective": {"retro_participants": depts, "retro_goal": "目标", "retro_result": "结果",
                          "retro_highlights": "亮点", "retro_problems": "问题", "retro_improvements": "改进"},
        "distill_lessons": {"lesson_title": "协作经验", "lesson_body": "经验内容", "lesson_tags": "协作",
                            "recognised_depts": depts[:1]},
    }


def _actor(org, assignee: str | None, users: str, groups: str, element: str) -> str:
    if assignee:
        return assignee
    if element in ("dispatch_lead", "archive_request"):
        return "xiaozhou"
    if users:
        return users.split(",")[0]
    return next(m for g in groups.split(",") if g for m in org.members(g))


def carry(ctx: Services, clock: Clock, n: int) -> None:
    """File request number `n` and work on it as far as its own dice say."""
    rng = random.Random(n)
    clock.now = START + SPACING * n
    requester_dept = rng.choice(sorted(REQUESTERS))
    others = rng.sample([d for d in sorted(REQUESTERS) if d != requester_dept], rng.choice((1, 2)))
    depts = [requester_dept, *others]
    lead = rng.choice(depts)
    inputs = _inputs(rng, clock.now, depts, lead)
    data = {"request_type": rng.choice(("项目协作", "资源申请", "问题协调", "流程优化")), "title": f"协作需求 {n}",
            "background": "背景", "goal": "可衡量的目标", "involved_depts": depts, "details": "各部门分工",
            "expected_date": day(clock.now, 60), "priority": rng.choice(("高", "中", "低")),
            "urgency": rng.choice(("普通", "紧急", "特急")), "contact": "13800000000"}
    iid = submit_request(ctx, REQUESTERS[requester_dept], data).instance_id
    budget = rng.randint(1, 18) if rng.random() < 0.2 else 10_000
    org = directory(ctx)
    for _ in range(60):
        with ctx.db.transaction(write=False) as tx:
            rows = tx.all("SELECT task_id, element_id, assignee, candidate_users, candidate_groups FROM inbox_task "
                          "WHERE instance_id = ? ORDER BY created_at, task_id", (iid,))
        if not rows:
            return
        for task_id, element, assignee, users, groups in rows:
            clock.now += timedelta(hours=rng.uniform(0.2, 20))
            if budget <= 0:
                if element == "execute_task":  # where the open request stands: a progress update, maybe red
                    key = "T1" if assignee == OWNERS[depts[0]] else "T2"
                    post_progress(ctx, iid, assignee, plan_task_key=key, status=rng.choice(("进行中", "待支持")),
                                  work_done="进行中", risk=rng.random() < 0.3, risk_note="可能延期")
                return
            budget -= 1
            complete_task(ctx, task_id, _actor(org, assignee, users, groups, element), inputs[element])


def filed(ctx: Services) -> set[int]:
    """The numbers n of the requests generated so far (each is titled 协作需求 n)."""
    with ctx.db.engine.connect() as conn:
        titles = conn.execute(text("SELECT title FROM request_summary WHERE title LIKE '协作需求 %'")).scalars()
        return {int(t.rsplit(" ", 1)[1]) for t in titles}


def _carry_all(url: str, numbers: list[int]) -> None:
    """One generating process: its own services and clock on the shared database."""
    clock = Clock()
    ctx = bootstrap(EngineConfig(database_url=url, clock=clock, script_time_limit=30.0), migrate=False)
    try:
        for n in numbers:
            carry(ctx, clock, n)
    finally:
        ctx.db.dispose()


def generate(ctx: Services, clock: Clock, count: int, progress: bool, workers: int = 1) -> float:
    """Generate every request 0..count-1 not filed yet, in `workers` processes (each files every
    workers-th of them, so all file in the same months as one would)."""
    started = time.perf_counter()
    missing = sorted(set(range(count)) - filed(ctx))
    if workers <= 1:
        for i, n in enumerate(missing, start=1):
            carry(ctx, clock, n)
            if progress and i % 100 == 0:
                print(f"\rgenerated {i:,}/{len(missing):,} requests ({i / (time.perf_counter() - started):.1f}/s)",
                      end="", file=sys.stderr, flush=True)
    else:
        import multiprocessing

        spawn = multiprocessing.get_context("spawn")
        url = ctx.db.engine.url.render_as_string(hide_password=False)
        procs = [spawn.Process(target=_carry_all, args=(url, missing[k::workers])) for k in range(workers)]
        for p in procs:
            p.start()
        while any(p.is_alive() for p in procs):
            time.sleep(5)
            if progress:
                print(f"\rgenerated {requests_in(ctx):,}/{count:,} requests", end="", file=sys.stderr, flush=True)
        if any(p.exitcode for p in procs):
            raise SystemExit(f"a generating process failed (exit codes {[p.exitcode for p in procs]})")
    if progress:
        print(file=sys.stderr)
    return time.perf_counter() - started


def set_up(ctx: Services) -> None:
    import_org(ctx, parse_yaml((ROOT / "demo" / "org.yaml").read_text("utf-8")), "setup", bootstrap=True)
    deploy(ctx, {p.name: p.read_bytes() for p in sorted((ROOT / "processes").glob("*.bpmn"))}, "lijingli")


def requests_in(ctx: Services) -> int:
    with ctx.db.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM request_summary")).scalar()


# Tables the dashboard and the knowledge page read (directly or through refresh), copied from a kept file
# into PostgreSQL, with the tables analytics.refresh derived in the kept file (ANALYTICS): the
# refresh on PostgreSQL then finds every chain read already, as after its own first run.
COPIED = ("bpmn_source", "deployment", "process_version", "department", "app_user", "department_post",
          "group_membership", "revision", "calendar_day", "process_instance", "request_summary", "audit_event",
          "inbox_task", "coordination_plan", "plan_task", "progress_update", "satisfaction", "knowledge_entry",
          "knowledge_entry_dept")
ANALYTICS = tuple(sorted(name for name in Base.metadata.tables if name.startswith("analytics_")))


def copy_into(source_url: str, ctx: Services) -> None:
    """Copy the dashboard's tables of a kept SQLite file into the (fresh) database of `ctx`, each with
    one COPY (times as stored: naive UTC)."""
    src = create_engine(source_url)
    tables = [Base.metadata.tables[name] for name in (*COPIED, *ANALYTICS)]
    with src.connect() as read, ctx.db.engine.begin() as write:
        for t in reversed(tables):  # what setting up the fresh schema wrote (the revision counters)
            write.execute(t.delete())
        cursor = write.connection.dbapi_connection.cursor()
        for t in tables:
            columns = [c.name for c in t.columns]
            with cursor.copy(f"COPY {t.name} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in read.execute(select(t)).yield_per(5000):
                    copy.write_row([v.astimezone(UTC).replace(tzinfo=None) if isinstance(v, datetime) and v.tzinfo
                                    else v for v in row])
        for t in tables:  # the copied ids are taken: sequences go on after them
            if "id" in t.c and t.c.id.primary_key and t.c.id.type.python_type is int:
                write.execute(text(f"SELECT setval(pg_get_serial_sequence('{t.name}', 'id'), "
                                   f"(SELECT max(id) FROM {t.name}))"))
        write.execute(text("ANALYZE"))
    src.dispose()


def approve_lessons(ctx: Services) -> tuple[int, float]:
    """Approve every other proposed lesson (odd ids) through the knowledge service, as a platform
    admin reviewing them would, unless some were reviewed already; (lessons approved, seconds)."""
    with ctx.db.engine.connect() as conn:
        if conn.execute(text("SELECT count(*) FROM knowledge_entry WHERE status <> 'proposed'")).scalar():
            return 0, 0.0
        ids = list(conn.execute(text("SELECT id FROM knowledge_entry WHERE status = 'proposed' AND id % 2 = 1 "
                                     "ORDER BY id")).scalars())
    started = time.perf_counter()
    for entry in ids:
        review_lesson(ctx, entry, ADMIN, True)
    return len(ids), time.perf_counter() - started


# Tables a copy of a request is made of for the dashboard: its instance row, summary, audit chain, inbox
# rows and plan with its tasks and progress (satisfaction is read from the chain).
_CLONED = ("process_instance", "request_summary", "audit_event", "inbox_task", "coordination_plan",
           "progress_update")


def replicate(ctx: Services, copies: int) -> int:
    """Copy every engine-made request `copies` - 1 times under new ids, copy K moved K times the span
    of the filings later (numbers suffixed -K): the requests the generator would have made next, as
    far as the dashboard can tell. The copies' chains are not rehashed (verification would flag
    them); the dashboard does not verify. Requests in all."""
    tables = {name: Base.metadata.tables[name] for name in (*_CLONED, "plan_task")}
    with ctx.db.engine.begin() as conn:
        originals = [r[0] for r in conn.execute(text("SELECT instance_id FROM request_summary WHERE request_no "
                                                     "NOT LIKE '%-%-%'"))]
        first, last = (_aware(v) for v in conn.execute(text(
            "SELECT min(submitted_at), max(submitted_at) FROM request_summary")).one())
        span = timedelta(days=(last - first).days + 1)
        for k in range(1, copies):
            prefix = f"z{k:03d}"  # no hex digit: never an original id
            shift = span * k

            def new(value, prefix=prefix):
                return prefix + value[4:] if value else value

            for i in range(0, len(originals), 500):
                ids = originals[i:i + 500]
                plans = {}
                for name in _CLONED:
                    t = tables[name]
                    key = t.c.id if name == "process_instance" else t.c.instance_id
                    rows = [dict(r) for r in conn.execute(select(t).where(key.in_(ids))).mappings()]
                    for r in rows:
                        _shift(r, shift)
                        if name == "process_instance":
                            r["id"], r["business_key"] = new(r["id"]), f"{r['business_key']}-{k}"
                        else:
                            r["instance_id"] = new(r["instance_id"])
                        if name == "request_summary":
                            r["request_no"] = f"{r['request_no']}-{k}"
                        if name in ("audit_event", "coordination_plan", "progress_update"):
                            old = r.pop("id")
                            if name == "coordination_plan":
                                plans[old] = r
                        if name == "inbox_task":
                            r["task_id"] = new(r["task_id"])
                        if "request_no" in r and name != "request_summary" and r["request_no"]:
                            r["request_no"] = f"{r['request_no']}-{k}"
                    if name == "coordination_plan":
                        for old, r in plans.items():
                            plans[old] = conn.execute(t.insert().returning(t.c.id), r).scalar_one()
                    elif rows:
                        conn.execute(t.insert(), rows)
                if plans:
                    t = tables["plan_task"]
                    rows = [dict(r) for r in conn.execute(select(t).where(t.c.plan_id.in_(list(plans)))).mappings()]
                    for r in rows:
                        r.pop("id")
                        r["plan_id"] = plans[r["plan_id"]]
                        _shift(r, shift)
                    if rows:
                        conn.execute(t.insert(), rows)
        return conn.execute(text("SELECT count(*) FROM request_summary")).scalar()


def _aware(value) -> datetime:
    value = datetime.fromisoformat(value) if isinstance(value, str) else value
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _shift(row: dict, by: timedelta) -> None:
    """Move a copied row's times (and a task's due time in its event) `by` later."""
    for key, value in row.items():
        if isinstance(value, datetime | date):
            row[key] = value + by
    if row.get("event_type") == "task_ready" and '"due_at": "' in row.get("data", ""):
        data = json.loads(row["data"])
        data["due_at"] = (datetime.fromisoformat(data["due_at"]) + by).isoformat()
        row["data"] = json.dumps(data, ensure_ascii=False, sort_keys=True)


def queries(ctx: Services, reader: str, days: int) -> dict:
    p = analytics.period(ctx, (ctx.now() - timedelta(days=days - 1)).date(), ctx.now().date())
    version = analytics.versions(ctx, reader)[0]
    return {
        "open_overdue": lambda: analytics.open_overdue(ctx, reader),
        "step_times": lambda: analytics.step_times(ctx, reader, p),
        "sla": lambda: analytics.sla(ctx, reader, p),
        "satisfaction": lambda: analytics.satisfaction(ctx, reader, p),
        "matrix": lambda: analytics.matrix(ctx, reader, p),
        "red": lambda: analytics.red(ctx, reader),
        "heatmap": lambda: analytics.heatmap(ctx, reader, version["process_id"], version["version"], p),
    }


def knowledge_queries(ctx: Services) -> dict:
    """The knowledge page as anyone opens it: every approved lesson, narrowed, searched."""
    return {
        "knowledge": lambda: browse(ctx),
        "knowledge type+dept": lambda: browse(ctx, request_type="资源申请", department="PRD"),
        "knowledge search": lambda: browse(ctx, "协作经验"),
        "knowledge search+dept": lambda: browse(ctx, "经验 内容", department="LOG"),
    }


def _timed(run, repeat: int) -> tuple[float, float]:
    """(median, p95) of `repeat` runs in ms, after one to warm caches and the database's pages."""
    run()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(1000 * (time.perf_counter() - started))
    times.sort()
    return statistics.median(times), times[max(0, -(-95 * len(times) // 100) - 1)]


def measure(ctx: Services, repeat: int) -> list[dict]:
    rows = []
    for reader, label in ((ADMIN, "admin"), (HEAD, "head of 产品部")):
        for days in (90, 365):
            for name, run in queries(ctx, reader, days).items():
                if days == 365 and name in ("open_overdue", "red"):
                    continue  # about now, not a period
                median, p95 = _timed(run, repeat)
                rows.append({"query": name, "reader": label, "period": "now" if name in ("open_overdue", "red")
                             else f"{days} days", "median_ms": median, "p95_ms": p95, "pass": p95 <= TARGET_MS})
    for name, run in knowledge_queries(ctx).items():
        median, p95 = _timed(run, repeat)
        rows.append({"query": name, "reader": "anyone", "period": "all", "median_ms": median, "p95_ms": p95,
                     "pass": p95 <= TARGET_MS})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.dashboard", description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=100_000, help="requests to generate (default 100,000)")
    ap.add_argument("--keep", type=Path, help="a SQLite file to keep the generated requests in, reused and extended")
    ap.add_argument("--database-url", help="measure on this PostgreSQL (a fresh schema, dropped after)")
    ap.add_argument("--repeat", type=int, default=40, help="runs of each query (default 40)")
    ap.add_argument("--generate-only", action="store_true", help="generate (into --keep) and stop")
    ap.add_argument("--workers", type=int, default=1, help="generating processes (default 1)")
    ap.add_argument("--replicate", type=int, default=1,
                    help="measure on K copies of each generated request, each copy later (default 1)")
    ap.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = ap.parse_args(argv)
    if args.requests < 1 or args.repeat < 1:
        raise SystemExit("--requests and --repeat must be at least 1")
    clock = Clock()
    progress = sys.stderr.isatty()
    generated, approved = None, (0, 0.0)
    kept_url = f"sqlite:///{args.keep.resolve()}" if args.keep else None
    if kept_url:  # generate into (or carry on) the kept file
        ctx = bootstrap(EngineConfig(database_url=kept_url, clock=clock, script_time_limit=30.0))
        try:
            if not directory(ctx).departments:
                set_up(ctx)
            if requests_in(ctx) < args.requests:
                generated = generate(ctx, clock, args.requests, progress, args.workers)
            approved = approve_lessons(ctx)
        finally:
            ctx.db.dispose()
        if args.generate_only:
            return 0
    target = args.database_url
    with (database(target) if target or not kept_url else _scratch(args.keep) if args.replicate > 1
          else nullcontext(kept_url)) as url:
        ctx = bootstrap(EngineConfig(database_url=url, clock=clock, script_time_limit=30.0))
        try:
            if kept_url and target:
                copy_into(kept_url, ctx)
            elif not kept_url:
                set_up(ctx)
                generated = generate(ctx, clock, args.requests, progress, args.workers)
                approved = approve_lessons(ctx)
            made = requests_in(ctx)
            total = replicate(ctx, args.replicate) if args.replicate > 1 else made
            with ctx.db.engine.connect() as conn:  # "now" is three days after the last filing
                last = conn.execute(text("SELECT max(submitted_at) FROM request_summary")).scalar()
            clock.now = (datetime.fromisoformat(last) if isinstance(last, str) else last).replace(tzinfo=UTC) + \
                timedelta(days=3)
            started = time.perf_counter()
            touched = analytics.refresh(ctx)
            refresh_s = time.perf_counter() - started
            if not ctx.db.is_sqlite:  # fresh statistics, as autovacuum would gather them (it is off here)
                with ctx.db.engine.begin() as conn:
                    conn.execute(text("ANALYZE"))
            backend = describe(ctx)
            rows = measure(ctx, args.repeat)
        finally:
            ctx.db.dispose()
    gen = f", generated in {generated:,.0f} s" if generated else ""
    copies = f" ({made:,} generated through the engine services, each copied {args.replicate}x)" \
        if args.replicate > 1 else ""
    lessons = f"; {approved[0]:,} lessons approved in {approved[1]:,.0f} s" if approved[0] else ""
    derived = " (the tables it derives copied from the kept file)" if kept_url and target else ""
    print(f"Xiezuo dashboard bench on {backend}: {total:,} requests{copies}{gen}; analytics.refresh over "
          f"{touched:,} instances took {refresh_s:,.1f} s{derived}{lessons}\n")
    print(table(f"Dashboard and knowledge page queries, {args.repeat} runs each (ms; target p95 <= {TARGET_MS:.0f})",
                ["query", "reader", "period", "median ms", "p95 ms", "result"],
                [[r["query"], r["reader"], r["period"], r["median_ms"], r["p95_ms"], "PASS" if r["pass"] else "MISS"]
                 for r in rows]))
    if args.json:
        args.json.write_text(json.dumps({"backend": backend, "requests": total, "generated_seconds": generated,
                                         "refresh_seconds": refresh_s, "results": rows}, indent=2))
    return 0 if all(r["pass"] for r in rows) else 1


@contextmanager
def _scratch(kept: Path):
    """A copy of the kept file to add the replicas to, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="xiezuo-dashboard-") as tmp:
        copy = Path(tmp) / "bench.db"
        shutil.copyfile(kept, copy)
        yield f"sqlite:///{copy}"


if __name__ == "__main__":
    sys.exit(main())
