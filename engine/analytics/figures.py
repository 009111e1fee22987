"""The managers' dashboard and the bottleneck heat map: figures over the requests a reader may see.

Who sees what: platform admins and auditors every request; a department head the requests of the
departments they head (as requester's, lead or involved department); anyone else is refused.

Every figure is read from tables derived from the audit log (engine.analytics.derive,
brought up to date by `refresh`, which the background runner calls every minute and the dashboard
calls when its last refresh is older than that), from request_summary, the records and the inbox:

- open_overdue: running requests by the department answering for them (the lead, before dispatch
  the requester's), and how many of them have an open task past its due time now;
- step_times: per step of the six-step flow, the requests whose time in that step ended in the
  period, the average and the 90th percentile of that time (first task ready to last task ended);
- sla: per urgency, the tasks with a due time completed in the period, how many on time;
- satisfaction: per month of the period, the number of ratings and their average;
- matrix: per requester's department and asked (involved) department, the requests filed in the
  period and how fast the asked department gave its feedback (average);
- red: every red warning of the running requests now (as engine.requests.records.red_warnings);
- heatmap: per user task of a process version, the tasks completed in the period with average and
  90th percentile time, and per sequence flow the times taken in the period.

A percentile is the nearest rank: the smallest value with at least 90% of the values at or below it.
"""

from __future__ import annotations

import io
import threading
import weakref
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from openpyxl import Workbook

from engine.analytics import days as analytics_days
from engine.analytics import derive as analytics_derive
from engine.analytics import red as analytics_red
from engine.analytics.derive import STEPS
from engine.analytics.graph import graph_of
from engine.context import Services
from engine.db.tx import Tx
from engine.errors import InvalidInput, NotFound, PermissionDenied
from engine.org.directory import ADMINS, directory
from engine.requests.export import put_cell, set_widths

AUDITORS = "auditors"
FEEDBACK_ELEMENTS = ("collect_feedback",)  # the involved departments' answer to a request
DEFAULT_DAYS = 90
MAX_DAYS = 3660
STALE_AFTER = timedelta(seconds=60)
DAY = timedelta(hours=24)
_REFRESHED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Database -> last refresh (wall clock)
_LOCK = threading.Lock()


def _newest_event(ctx: Services) -> int:
    with ctx.db.transaction(write=False) as tx:
        return tx.one("SELECT max(id) FROM audit_event")[0] or 0


def refresh(ctx: Services, now: datetime | None = None) -> int:
    """Bring the dashboard's derived tables up to date with the audit log; requests touched."""
    newest = _newest_event(ctx)
    done = analytics_derive.refresh(ctx, now)
    with _LOCK:
        _REFRESHED[ctx.db] = (datetime.now(UTC), newest)
    return done


def refresh_if_stale(ctx: Services) -> bool:
    """Refresh when this process has not refreshed in the last minute and the audit log grew since
    (its newest id, read through the primary key: no scan when nothing happened); whether it did."""
    with _LOCK:
        last, newest = _REFRESHED.get(ctx.db, (None, None))
    if last is not None and datetime.now(UTC) - last < STALE_AFTER:
        return False
    if newest is not None and _newest_event(ctx) == newest:
        with _LOCK:
            _REFRESHED[ctx.db] = (datetime.now(UTC), newest)
        return False
    refresh(ctx)
    return True


# --- who asks, and for when ------------------------------------------------------------------------

@dataclass(frozen=True)
class Scope:
    """The requests a reader's figures cover: every one (departments None) or those of `departments`."""

    user: str
    departments: tuple[str, ...] | None

    def sql(self, column: str, sqlite: bool) -> tuple[str, tuple]:
        """A condition on `column` (an instance id) keeping the scope's requests, and its parameters.

        On SQLite the column is written `+column`, which keeps the planner on the index of the
        period (the time column) instead of walking every row of the scope's requests."""
        if self.departments is None:
            return "", ()
        marks = ",".join("?" * len(self.departments))
        return (f" AND {'+' if sqlite else ''}{column} IN (SELECT instance_id FROM analytics_request_dept "
                f"WHERE department_id IN ({marks}))", self.departments)

    @property
    def summary(self) -> str | None:
        """The scope of the per-day summaries (engine.analytics.days) that hold exactly these
        requests: every request's, or one department's; None for a head of several departments (a
        request of two of them would be counted twice), whose figures are counted from the rows."""
        if self.departments is None:
            return analytics_days.ALL
        return self.departments[0] if len(self.departments) == 1 else None


def scope_of(ctx: Services, user: str) -> Scope:
    """Everything for admins and auditors, their departments' requests for heads; PermissionDenied else."""
    org = directory(ctx)
    groups = org.groups.get(user, set())
    if ADMINS in groups or AUDITORS in groups:
        return Scope(user, None)
    headed = tuple(sorted(d for d in org.departments if org.head(d) == user))
    if not headed:
        raise PermissionDenied("dashboard.denied", user=user)
    return Scope(user, headed)


def may_see_dashboard(ctx: Services, user: str) -> bool:
    try:
        scope_of(ctx, user)
    except PermissionDenied:
        return False
    return True


@dataclass(frozen=True)
class Period:
    """Local dates, both included."""

    first: date
    last: date
    zone: str

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(0), ZoneInfo(self.zone)).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """The moment after the period (exclusive)."""
        return datetime.combine(self.last + timedelta(days=1), time(0), ZoneInfo(self.zone)).astimezone(UTC)


def period(ctx: Services, first: str | date | None = None, last: str | date | None = None) -> Period:
    """The period from `first` to `last` (ISO dates, both included); by default the last 90 days."""
    zone = ctx.config.timezone
    today = ctx.now().astimezone(ZoneInfo(zone)).date()

    def parse(name: str, value) -> date | None:
        if value in (None, ""):
            return None
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value).strip())
        except ValueError:
            raise InvalidInput("date.invalid_named", what=name, given=str(value)[:30]) from None

    end = parse("to", last) or today
    start = parse("from", first) or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise InvalidInput("period.reversed", start=start.isoformat(), end=end.isoformat())
    if (end - start).days >= MAX_DAYS:
        raise InvalidInput("period.too_long", most=MAX_DAYS)
    return Period(start, end, zone)


# --- the dashboard's figures ---------------------------------------------------------------------

def _p90(tx: Tx, group: str, table: str, where: str, params: tuple) -> dict:
    """group value -> (count, average seconds, 90th percentile seconds) over `seconds` of `table`.

    The values are read from an index that covers the query and counted here: faster than a window
    function over the same rows on both databases."""
    values: dict = {}
    for g, seconds in tx.all(f"SELECT {group}, seconds FROM {table} WHERE {where}", params):
        values.setdefault(g, []).append(seconds)
    out = {}
    for g, found in values.items():
        found.sort()
        out[g] = (len(found), sum(found) / len(found), found[-(-9 * len(found) // 10) - 1])
    return out


def _hours(seconds) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)


def open_overdue(ctx: Services, user: str) -> list[dict]:
    """Running requests per answering department, and how many have an open task overdue now."""
    scope = scope_of(ctx, user)
    cond, params = scope.sql("a.instance_id", ctx.db.is_sqlite)
    org = directory(ctx)
    with ctx.db.transaction(write=False) as tx:
        rows = tx.all("SELECT a.department_id, COUNT(*), SUM(CASE WHEN EXISTS (SELECT 1 FROM inbox_task t WHERE "
                      "t.instance_id = a.instance_id AND t.due_at < ?) THEN 1 ELSE 0 END) FROM analytics_instance a "
                      f"WHERE a.status = 'running' AND a.department_id IS NOT NULL{cond} GROUP BY a.department_id",
                      (tx.stamp(ctx.now()), *params))
    return sorted(({"department_id": d, "department": _dept(org, d), "open": n, "overdue": int(late or 0)}
                   for d, n, late in rows), key=lambda r: (-r["open"], r["department_id"]))


def _dept(org, dept: str | None) -> str:
    return (org.departments.get(dept or "") or {}).get("name", dept or "—")


def step_times(ctx: Services, user: str, p: Period) -> list[dict]:
    """Per step: requests whose time in it ended in the period, average and p90 of that time."""
    scope = scope_of(ctx, user)
    cond, params = scope.sql("instance_id", ctx.db.is_sqlite)
    with ctx.db.transaction(write=False) as tx:
        found = _p90(tx, "step", "analytics_step_span", f"ended_at >= ? AND ended_at < ?{cond}",
                     (tx.stamp(p.start), tx.stamp(p.end), *params))
    out = []
    for step, (name, _) in STEPS.items():
        n, avg, p90 = found.get(step, (0, None, None))
        out.append({"step": step, "name": name, "requests": n, "avg_seconds": avg, "p90_seconds": p90,
                    "avg_hours": _hours(avg), "p90_hours": _hours(p90)})
    return out


def sla(ctx: Services, user: str, p: Period) -> list[dict]:
    """Per urgency: tasks with a due time completed in the period, on time, late, and the rate."""
    scope = scope_of(ctx, user)
    cond, params = scope.sql("instance_id", ctx.db.is_sqlite)
    with ctx.db.transaction(write=False) as tx:
        if scope.summary is not None:
            rows = analytics_days.sla(tx, scope.summary, p.first, p.last)
        else:
            rows = tx.all("SELECT urgency, COUNT(*), SUM(CASE WHEN ended_at <= due_at THEN 1 ELSE 0 END) "
                          "FROM analytics_task_span WHERE ended_at >= ? AND ended_at < ? AND outcome = 'completed' "
                          f"AND due_at IS NOT NULL{cond} GROUP BY urgency",
                          (tx.stamp(p.start), tx.stamp(p.end), *params))
    order = {"特急": 0, "紧急": 1, "普通": 2}
    out = []
    for urgency, n, on_time in sorted(rows, key=lambda r: (order.get(r[0], 9), r[0] or "")):
        on_time = int(on_time or 0)
        out.append({"urgency": urgency or "—", "due": n, "on_time": on_time, "late": n - on_time,
                    "rate": round(100 * on_time / n, 1) if n else None})
    return out


def satisfaction(ctx: Services, user: str, p: Period) -> list[dict]:
    """Per local month of the period: ratings given and their average score."""
    scope = scope_of(ctx, user)
    cond, params = scope.sql("instance_id", ctx.db.is_sqlite)
    zone = ZoneInfo(p.zone)
    with ctx.db.transaction(write=False) as tx:
        rows = tx.all(f"SELECT rated_at, score FROM analytics_instance WHERE rated_at >= ? AND rated_at < ?{cond}",
                      (tx.stamp(p.start), tx.stamp(p.end), *params))
    months: dict[str, list[int]] = {}
    for at, score in rows:
        months.setdefault(Tx.when(at).astimezone(zone).strftime("%Y-%m"), []).append(score)
    return [{"month": m, "ratings": len(s), "average": round(sum(s) / len(s), 2)} for m, s in sorted(months.items())]


def matrix(ctx: Services, user: str, p: Period) -> list[dict]:
    """Per (requester's department, asked department): requests filed in the period, feedback given,
    and the average hours the asked department took to give it."""
    scope = scope_of(ctx, user)
    cond, params = scope.sql("r.instance_id", ctx.db.is_sqlite)
    org = directory(ctx)
    bounds = (p.start, p.end)
    with ctx.db.transaction(write=False) as tx:
        asked = tx.all(f"SELECT r.requester_dept, r.involved_depts FROM request_summary r WHERE r.submitted_at >= ? "
                       f"AND r.submitted_at < ?{cond}", (*map(tx.stamp, bounds), *params))
        marks = tx.in_list(FEEDBACK_ELEMENTS)
        answered = tx.all(f"SELECT r.requester_dept, s.department_id, COUNT(*), AVG(s.seconds) FROM request_summary r "
                          f"JOIN analytics_task_span s ON s.instance_id = r.instance_id "
                          f"WHERE s.element_id IN ({marks}) AND s.ended_at >= ? AND s.outcome = 'completed' "
                          f"AND r.submitted_at >= ? AND r.submitted_at < ?{cond} "
                          f"GROUP BY r.requester_dept, s.department_id",
                          (*FEEDBACK_ELEMENTS, tx.stamp(p.start), *map(tx.stamp, bounds), *params))
    cells: dict[tuple, dict] = {}
    for requester, involved in asked:
        for to in filter(None, (involved or "").split(",")):
            cell = cells.setdefault((requester, to), {"requests": 0, "answers": 0, "avg_seconds": None})
            cell["requests"] += 1
    for requester, to, n, avg in answered:
        cell = cells.setdefault((requester, to), {"requests": 0, "answers": 0, "avg_seconds": None})
        cell["answers"], cell["avg_seconds"] = n, float(avg)
    return [{"from_id": f, "from": _dept(org, f), "to_id": t, "to": _dept(org, t), **c,
             "avg_hours": _hours(c["avg_seconds"])} for (f, t), c in sorted(cells.items(), key=lambda i: (
                 str(i[0][0]), str(i[0][1])))]


def red(ctx: Services, user: str) -> list[dict]:
    """Every red warning of the running requests now, by request number (rules of records.red_warnings,
    read from engine.analytics.red's table)."""
    scope = scope_of(ctx, user)
    org = directory(ctx)
    with ctx.db.transaction(write=False) as tx:
        return analytics_red.red_now(tx, ctx.now(), ZoneInfo(ctx.config.timezone), scope.departments,
                                     lambda d: _dept(org, d), lambda u: (org.users.get(u) or {}).get("name", u))


def dashboard(ctx: Services, user: str, p: Period) -> dict:
    """Every figure of the dashboard for `user` over period `p`."""
    scope = scope_of(ctx, user)
    return {"scope": list(scope.departments) if scope.departments else None, "period": p,
            "open_overdue": open_overdue(ctx, user), "step_times": step_times(ctx, user, p), "sla": sla(ctx, user, p),
            "satisfaction": satisfaction(ctx, user, p), "matrix": matrix(ctx, user, p), "red": red(ctx, user)}


# --- the heat map ----------------------------------------------------------------------------------

def versions(ctx: Services, user: str) -> list[dict]:
    """Every deployed process version, newest first per process."""
    scope_of(ctx, user)
    with ctx.db.transaction(write=False) as tx:
        rows = tx.all("SELECT id, process_id, version, name FROM process_version ORDER BY process_id, version DESC")
    return [{"id": i, "process_id": pid, "version": v, "name": name or pid} for i, pid, v, name in rows]


def heatmap(ctx: Services, user: str, process_id: str, version: int | None, p: Period) -> dict:
    """The version's BPMN XML with, per user task, completions, average and p90 seconds in the period,
    and per sequence flow the times taken in the period. `version` None: the latest."""
    scope = scope_of(ctx, user)
    cond, params = scope.sql("instance_id", ctx.db.is_sqlite)
    with ctx.db.transaction(write=False) as tx:
        found = tx.one("SELECT v.id, v.version, s.filename, s.content FROM process_version v JOIN bpmn_source s ON "
                       "s.sha256 = v.source_sha256 WHERE v.process_id = ? " + (
                           "AND v.version = ?" if version is not None else "ORDER BY v.version DESC LIMIT 1"),
                       (process_id, version) if version is not None else (process_id,))
        if found is None:
            raise (NotFound("process.no_version", process=process_id, version=version) if version
               else NotFound("process.unknown", process=process_id))
        version_id, number, filename, xml = found
        days = (p.first, p.last) if tx.postgres else (p.first.isoformat(), p.last.isoformat())
        if scope.summary is not None:  # per-day summaries of exactly the scope's requests
            tasks = analytics_days.task_times(tx, scope.summary, version_id, p.first, p.last)
        else:
            tasks = _p90(tx, "element_id", "analytics_task_span", "process_version_id = ? AND ended_at >= ? AND "
                         f"ended_at < ? AND outcome = 'completed'{cond}",
                         (version_id, tx.stamp(p.start), tx.stamp(p.end), *params))
        if scope.departments is None:
            flows = dict(tx.all("SELECT flow_id, SUM(taken) FROM analytics_flow_day WHERE process_version_id = ? "
                                "AND day >= ? AND day <= ? GROUP BY flow_id", (version_id, *days)))
        elif scope.summary is not None:
            flows = analytics_days.flows(tx, scope.summary, version_id, p.first, p.last)
        else:
            flows = dict(tx.all(f"SELECT flow_id, SUM(taken) FROM analytics_flow WHERE process_version_id = ? AND "
                                f"day >= ? AND day <= ?{cond} GROUP BY flow_id", (version_id, *days, *params)))
    g = graph_of(filename, xml, process_id)
    return {"process_id": process_id, "version": number, "version_id": version_id, "xml": xml,
            "tasks": {e: {"name": g.names.get(e, e), "count": n, "avg_seconds": avg, "p90_seconds": p90,
                          "avg_hours": _hours(avg), "p90_hours": _hours(p90)} for e, (n, avg, p90) in tasks.items()},
            "flows": {f: int(n) for f, n in flows.items()},
            "flow_names": {f: (g.names.get(src, src), g.names.get(tgt, tgt)) for f, (src, tgt) in g.flows.items()}}


# --- Excel ---------------------------------------------------------------------------------------

def workbook(sheets: list[tuple[str, list[str], list[list]]]) -> bytes:
    """An Excel workbook of tables: (sheet title, column labels, rows); typed text stays text."""
    wb = Workbook()
    wb.remove(wb.active)
    for title, columns, rows in sheets:
        ws = wb.create_sheet(title[:31])
        for col, label in enumerate(columns, start=1):
            put_cell(ws, 1, col, label, label=True)
        for r, row in enumerate(rows, start=2):
            for col, value in enumerate(row, start=1):
                put_cell(ws, r, col, value)
        set_widths(ws, [max(12, min(40, 2 * len(str(c)) + 4)) for c in columns])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
