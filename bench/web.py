"""Web bench: what the web layer adds around a command, and what a page asks of the database.

    .venv/bin/python -m bench.web [--database-url URL] [--rounds N] [--json PATH]

In one process, on one fresh database (SQLite WAL in a temporary directory, or a fresh PostgreSQL
schema): the engine bench's 8-task process is completed step by step by `complete_task` called
directly and through the JSON API (POST /api/v1/tasks/<id>/complete with a personal token, Flask's
test client: no network, no server), in alternating rounds; the web overhead is the API's time less
the command's, as a ratio of the command's own time. Then the demo organisation's head of 市场部,
signed in with a session, opens the inbox and the task page of a request filed by 小王: the
connections each takes from the pool, the statements (SQLite) or round trips (PostgreSQL) it sends,
and how many of those carry no data (transaction control, the pool's ping). Counts come from the
driver (tests/db_trips.py). Timings are printed, never held against anything.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.engine import START, Clock, database, day, describe, table
from engine.bpmn.deploy import deploy
from engine.config import EngineConfig
from engine.org.accounts import create_token, set_password
from engine.org.importer import import_org, parse_yaml
from engine.requests.requests import submit_request
from engine.workflow.instances import complete_task
from tests.db_trips import DatabaseTrips, Seen
from webui import create_app
from webui.config import WebConfig

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 15  # alternating rounds of one 8-task run each way
OVERHEAD_TARGET = 0.5  # (API ms - command ms) / command ms, at most
TRIPS_TARGET = 15  # round trips (PostgreSQL) or statements (SQLite) of a page, at most
HEAD, REQUESTER, PASSWORD = "zhangzongjian", "xiaowang", "xiezuo-bench"
PAGES = 5  # page loads counted; the table shows the last (the counts repeat exactly)
SIGN_OFFS = 8  # requests filed per round and path, their sign-offs completed
SIGN_OFF = {"signoff_decision": "同意", "signoff_comment": "同意提交"}


def _request(now) -> dict:
    return {"request_type": "项目协作", "title": "618大促活动跨部门协作需求", "background": "联合产品部、销售部推进",
            "goal": "销售额同比增长30%", "involved_depts": ["PRD", "SAL"], "details": "产品部提供功能说明",
            "expected_date": day(now, 42), "priority": "高", "urgency": "普通", "contact": "内部号 8888"}


def file_requests(ctx, count: int) -> list[str]:
    """File `count` requests as 小王; the sign-off tasks they open for the head of 市场部."""
    tasks = []
    for _ in range(count):
        filed = submit_request(ctx, REQUESTER, _request(ctx.now()))
        with ctx.db.transaction(write=False) as tx:
            task = tx.one("SELECT task_id FROM inbox_task WHERE instance_id = ? AND assignee = ?",
                          (filed.instance_id, HEAD))
        if task is None:
            raise RuntimeError(f"the request did not reach {HEAD}")
        tasks.append(task[0])
    return tasks


def set_up(app) -> str:
    """The demo organisation and processes; the head of 市场部 with a password and a token (returned)."""
    ctx = app.extensions["xiezuo"]
    import_org(ctx, parse_yaml((ROOT / "demo" / "org.yaml").read_text("utf-8")), "setup", bootstrap=True)
    set_password(ctx, HEAD, PASSWORD, must_change=False)
    deploy(ctx, {p.name: p.read_bytes() for p in (ROOT / "processes").glob("*.bpmn")}, "lijingli")
    return create_token(ctx, HEAD, "bench")


def completions(app, token: str, rounds: int) -> dict[str, Any]:
    """Per round, the sign-offs of SIGN_OFFS requests completed directly and as many through the API,
    alternating; ms per completion."""
    ctx = app.extensions["xiezuo"]
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    def direct(task_id: str) -> float:
        started = time.perf_counter()
        complete_task(ctx, task_id, HEAD, SIGN_OFF)
        return time.perf_counter() - started

    def api(task_id: str) -> float:
        started = time.perf_counter()
        answer = client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": SIGN_OFF}, headers=headers)
        elapsed = time.perf_counter() - started
        if answer.status_code != 200:
            raise RuntimeError(f"the API answered {answer.status_code}: {answer.get_data(as_text=True)}")
        return elapsed

    def run(complete) -> float:
        return statistics.median(complete(task_id) for task_id in file_requests(ctx, SIGN_OFFS))

    run(direct), run(api)  # warm: specs parsed, caches filled, the pool's connections made
    per_round = []
    for _ in range(rounds):
        d, a = run(direct), run(api)
        per_round.append({"direct_ms": d * 1000, "api_ms": a * 1000, "web_ms": (a - d) * 1000, "overhead": (a - d) / d})
    return {"rounds": per_round, **{key: statistics.median(r[key] for r in per_round)
                                    for key in ("direct_ms", "api_ms", "web_ms", "overhead")}}


def page_counts(app, token: str) -> list[dict[str, Any]]:
    """The database work of each page (and of one API completion, for comparison), counted by the driver."""
    ctx = app.extensions["xiezuo"]
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = page.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
    answer = client.post("/login", data={"username": HEAD, "password": PASSWORD, "csrf_token": csrf})
    if answer.status_code != 302:
        raise RuntimeError(f"signing in answered {answer.status_code}")
    task_id, *others = file_requests(ctx, 4)
    trips = DatabaseTrips(ctx.db.engine)
    rows = []
    try:
        for name, path in (("inbox page", "/inbox"), ("task page", f"/tasks/{task_id}")):
            for _ in range(PAGES):
                with trips.count() as seen:
                    started = time.perf_counter()
                    answer = client.get(path)
                    elapsed = time.perf_counter() - started
                if answer.status_code != 200:
                    raise RuntimeError(f"GET {path} answered {answer.status_code}")
            rows.append(_row(f"GET {path.replace(task_id, '<id>')} ({name})", seen, elapsed, TRIPS_TARGET))
        api = app.test_client()
        for other in others[:2]:  # the second is counted (the token's use was recorded by the first)
            with trips.count() as seen:
                started = time.perf_counter()
                api.post(f"/api/v1/tasks/{other}/complete", json={"data": SIGN_OFF},
                         headers={"Authorization": f"Bearer {token}"})
                elapsed = time.perf_counter() - started
        rows.append(_row("POST /api/v1/tasks/<id>/complete", seen, elapsed, None))
        with trips.count() as seen:
            started = time.perf_counter()
            complete_task(ctx, others[2], HEAD, SIGN_OFF)
            elapsed = time.perf_counter() - started
        rows.append(_row("complete_task (direct)", seen, elapsed, None))
    finally:
        trips.close()
    return rows


def _row(name: str, seen: Seen, seconds: float, target: int | None) -> dict[str, Any]:
    return {"request": name, "checkouts": seen.checkouts, "trips": seen.trips, "empty": seen.empty,
            "data": seen.data, "ms": seconds * 1000, "target": target,
            "pass": None if target is None else seen.trips <= target, "statements": seen.statements}


def report(doc: dict[str, Any]) -> str:
    c = doc["completions"]
    unit = "statements" if doc["sqlite"] else "round trips"
    out = [f"Xiezuo web bench on {doc['backend']}\n"]
    out.append(table(f"Completing the head's sign-off of a request: {len(c['rounds'])} alternating rounds of "
                     f"{SIGN_OFFS} completions each way; ms: median completion of a round; web ms (the API's less the "
                     "command's) and its ratio to the command's: per round; medians over the rounds",
                     ["path", "ms/completion", "web ms", "web overhead / command", "target", "result"],
                     [["complete_task (direct)", c["direct_ms"], "", "", "", ""],
                      ["POST /api/v1/tasks/<id>/complete", c["api_ms"], c["web_ms"],
                       f"{c['overhead']:.2f}x", f"<= {OVERHEAD_TARGET}x",
                       "PASS" if c["overhead"] <= OVERHEAD_TARGET else "MISS"]]))
    out.append(table(f"What one request asks of the database ({unit}: as the driver sends them; no data: "
                     "transaction control, pool ping)",
                     ["request", "connections", unit, "no data", "with data", "ms", "target", "result"],
                     [[r["request"], r["checkouts"], r["trips"], r["empty"], r["data"], r["ms"],
                       "" if r["target"] is None else f"<= {r['target']}",
                       {True: "PASS", False: "MISS", None: "info"}[r["pass"]]] for r in doc["pages"]]))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.web", description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", help="PostgreSQL (fresh schema per run) or a new SQLite file")
    ap.add_argument("--rounds", type=int, default=ROUNDS, help=f"alternating completion rounds (default {ROUNDS})")
    ap.add_argument("--json", type=Path, help="also write the JSON document here")
    ap.add_argument("--statements", action="store_true", help="print every statement the pages sent")
    args = ap.parse_args(argv)
    with database(args.database_url) as url, tempfile.TemporaryDirectory(prefix="xiezuo-web-") as folder:
        clock = Clock(START)
        app = create_app(WebConfig(engine=EngineConfig(database_url=url, clock=clock), secret_key="bench",
                                   instance_path=folder))
        ctx = app.extensions["xiezuo"]
        try:
            token = set_up(app)
            backend = describe(ctx)
            doc = {"backend": backend, "sqlite": ctx.db.is_sqlite, "completions": completions(app, token, args.rounds),
                   "pages": page_counts(app, token)}
        finally:
            ctx.db.dispose()
    print(report(doc))
    if args.statements:
        for row in doc["pages"]:
            print(f"\n{row['request']}:")
            print("\n".join(f"  {s[:160]}" for s in row["statements"]))
    if args.json:
        args.json.write_text(json.dumps(doc, indent=2, ensure_ascii=False))
        print(f"JSON written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
