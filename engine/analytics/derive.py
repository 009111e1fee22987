"""Facts derived from the audit log for the dashboard and the heat map, outside the command path.

`refresh` reads every audit chain that moved since it last looked (analytics_instance.seq against
process_instance.audit_seq: a chain moves by whole commands, so a refresh never sees half of
one) and rewrites the touched requests' derived rows:

- analytics_task_span: each user task from task_ready to task_completed (or task_cancelled), with
  its step of the six-step flow, due date, the request's urgency and the department of whoever
  holds or completed it;
- analytics_step_span: per request and step, the first task ready to the last task ended (NULL
  while a task of the step is open);
- analytics_flow: the sequence flows taken, per local day. The chain records user tasks, timers,
  the start and the end, not gateways or scripts: the flows of one command are those on the way,
  through unrecorded elements only, from what the command completed (or the timer that fired) to
  each task it made ready (or the end it reached); a completion that reaches no task follows its
  one way on to an end event or a waiting event. A multi-instance activity is entered once per
  command; inside a multi-instance subprocess each instance takes its own flows;
- analytics_flow_day: the same summed over every request of a process version, kept by the deltas;
- analytics_request_dept: the requester's, lead and involved departments of each request;
- analytics_instance: how far the chain was read, the step the request stands in, its status, the
  department that answers for it (the lead, before dispatch the requester's) and its satisfaction
  score (satisfaction_rated) with its time;
- the per-day summaries of engine.analytics.days and the current plans' tasks of
  engine.analytics.red, in the same transaction.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from engine.analytics import days as analytics_days
from engine.analytics import red as analytics_red
from engine.analytics.graph import Graph, cached_flows, graph_of
from engine.context import Services
from engine.db.tx import Tx
from engine.org.directory import directory

# The six steps of the collaboration flow and the user tasks of each (elements of processes/).
STEPS: dict[int, tuple[str, tuple[str, ...]]] = {
    1: ("需求发起", ("dept_head_signoff", "revise_request")),
    2: ("审核分派", ("admin_review", "dispatch_lead", "lead_confirm")),
    3: ("协调方案", ("collect_feedback", "organise_coordination", "send_meeting_notice", "record_minutes",
                  "write_plan", "approve_plan")),
    4: ("执行跟踪", ("execute_task",)),
    5: ("结果验收", ("accept_deliverable",)),
    6: ("归档复盘", ("archive_request", "rate_satisfaction", "retrospective", "distill_lessons")),
}
STEP_OF = {element: step for step, (_, elements) in STEPS.items() for element in elements}
# Events that move tokens (a group of events of one command starts with them) and those that end it.
SOURCES = frozenset({"instance_started", "task_completed", "timer_fired", "instance_retried"})
BATCH = 200  # instances per refresh transaction

def _groups(events: list[tuple]) -> list[list[tuple]]:
    """Events split per command: a group opens with its sources and runs to the next group's."""
    groups: list[list[tuple]] = []
    opened = False
    for e in events:
        kind = e[1]
        if kind in SOURCES and (not groups or not opened):
            groups.append([])
            opened = True
        elif kind not in SOURCES:
            opened = False
        if groups:
            groups[-1].append(e)
    return groups


@dataclass
class _Request:
    process_version_id: int
    status: str
    urgency: str | None
    departments: set[str]
    answers_for: str | None  # lead, else the requester's department
    rated_at: datetime | None = None
    score: int | None = None


def _source(tx: Tx, version_id: int) -> tuple[str, str, str]:
    found = tx.one("SELECT s.filename, s.content, v.process_id FROM process_version v JOIN bpmn_source s "
                   "ON s.sha256 = v.source_sha256 WHERE v.id = ?", (version_id,))
    return found if found else ("", "", "")


def _graph(tx: Tx, version_id: int, cache: dict[int, Graph]) -> Graph:
    if version_id not in cache:
        filename, xml, process_id = _source(tx, version_id)
        cache[version_id] = graph_of(filename, xml, process_id) if xml else Graph()
    return cache[version_id]


def stale(tx: Tx) -> list[tuple[str, int]]:
    """(instance id, audit_seq) of every instance whose chain moved since the last refresh, oldest
    first: a batch of requests filed together touches few days of the summaries."""
    return [(iid, seq) for iid, seq in tx.all(
        "SELECT p.id, p.audit_seq FROM process_instance p LEFT JOIN analytics_instance a ON a.instance_id = p.id "
        "WHERE a.instance_id IS NULL OR a.seq < p.audit_seq ORDER BY p.created_at, p.id")]


def refresh(ctx: Services, now: datetime | None = None) -> int:
    """Bring the derived tables up to date with every audit chain; how many requests were touched."""
    with ctx.db.transaction(write=False) as tx:
        todo = stale(tx)
    zone = ZoneInfo(ctx.config.timezone)
    graphs: dict[int, Graph] = {}
    done = 0
    for i in range(0, len(todo), BATCH):
        ids = [iid for iid, _ in todo[i:i + BATCH]]
        with ctx.db.transaction() as tx:
            if tx.postgres:  # one refresher at a time writes; another one waits and then finds nothing left
                tx.run("SELECT pg_advisory_xact_lock(7243001)")
            done += _refresh_batch(ctx, tx, ids, zone, graphs)
    return done


def _refresh_batch(ctx: Services, tx: Tx, ids: list[str], zone: ZoneInfo, graphs: dict[int, Graph]) -> int:
    marks = tx.in_list(ids)
    seen = {iid: (seq, step, Tx.when(rated_at), score) for iid, seq, step, rated_at, score in tx.all(
        f"SELECT instance_id, seq, step, rated_at, score FROM analytics_instance WHERE instance_id IN ({marks})", ids)}
    rows = tx.all(f"SELECT p.id, p.process_version_id, p.status, p.audit_seq, r.urgency, r.requester_dept, "
                  f"r.lead_dept, r.involved_depts, r.request_no, r.title FROM process_instance p "
                  f"LEFT JOIN request_summary r ON r.instance_id = p.id WHERE p.id IN ({marks})", ids)
    spans: dict[str, dict[str, list]] = defaultdict(dict)
    for row in tx.all(f"SELECT instance_id, task_id, process_version_id, element_id, step, urgency, department_id, "
                      f"ready_at, due_at, ended_at, outcome, seconds FROM analytics_task_span "
                      f"WHERE instance_id IN ({marks})", ids):
        spans[row[0]][row[1]] = [*row[:7], Tx.when(row[7]), Tx.when(row[8]), Tx.when(row[9]), *row[10:]]
    flows: dict[str, Counter] = defaultdict(Counter)
    for iid, fid, day, version_id, taken in tx.all(f"SELECT instance_id, flow_id, day, process_version_id, taken "
                                                   f"FROM analytics_flow WHERE instance_id IN ({marks})", ids):
        flows[iid][(fid, day if isinstance(day, date) else date.fromisoformat(day), version_id)] += taken
    depts: dict[str, set[str]] = defaultdict(set)
    for iid, dept in tx.all(f"SELECT instance_id, department_id FROM analytics_request_dept "
                            f"WHERE instance_id IN ({marks})", ids):
        depts[iid].add(dept)
    fresh = [iid for iid in ids if iid not in seen]
    chains: dict[str, list[tuple]] = defaultdict(list)  # the whole chains of requests never read, in one query
    if fresh:
        for row in tx.all(f"SELECT instance_id, seq, event_type, actor, at, element_id, task_id, data FROM audit_event "
                          f"WHERE instance_id IN ({tx.in_list(fresh)}) ORDER BY instance_id, seq", fresh):
            chains[row[0]].append(row[1:])
    org = directory(ctx)
    touched = 0
    days: Counter = Counter()  # (flow, day, version) -> change of the day's total
    summaries: Counter = Counter()  # facts of analytics_days: after minus before
    moved: list[str] = []
    out: dict[str, list] = {table: [] for table in _TABLES}
    running: dict[str, tuple[str, str]] = {}
    for iid, version_id, status, audit_seq, urgency, requester_dept, lead_dept, involved, number, title in rows:
        last, step, rated_at, score = seen.get(iid, (0, 1, None, None))
        if last >= audit_seq:
            continue  # another refresh got there first
        touched += 1
        moved.append(iid)
        if status == "running" and number is not None:
            running[iid] = (number, title)
        request = _Request(version_id, status, urgency,
                           {d for d in (requester_dept, lead_dept, *(involved or "").split(",")) if d},
                           lead_dept or requester_dept, rated_at, score)
        if iid in seen:
            events = tx.all("SELECT seq, event_type, actor, at, element_id, task_id, data FROM audit_event "
                            "WHERE instance_id = ? AND seq > ? AND seq <= ? ORDER BY seq", (iid, last, audit_seq))
        else:
            events = [e for e in chains[iid] if e[0] <= audit_seq]
        g = _graph(tx, version_id, graphs)
        before = Counter(flows[iid])
        summaries.subtract(analytics_days.facts(spans[iid].values(), depts[iid], flows[iid], zone))
        step = _apply(iid, request, events, spans[iid], flows[iid], step, g, org, zone)
        summaries.update(analytics_days.facts(spans[iid].values(), request.departments, flows[iid], zone))
        _rows(tx, iid, request, spans[iid], flows[iid], step, audit_seq, out)
        days.update(flows[iid])
        days.subtract(before)
    _write(tx, [iid for iid in moved if iid in seen], out)
    analytics_days.insert(tx, "INSERT INTO analytics_flow_day (process_version_id, day, flow_id, taken)",
                          [(version_id, day if tx.postgres else day.isoformat(), fid, n)
                           for (fid, day, version_id), n in sorted(days.items()) if n],
                          " ON CONFLICT (process_version_id, day, flow_id) DO UPDATE SET taken = "
                          "analytics_flow_day.taken + excluded.taken", ("int", "date", "text", "int"))
    analytics_days.write(tx, summaries)
    analytics_red.write(tx, moved, running, zone)
    return touched


def _apply(iid: str, request: _Request, events: list[tuple], spans: dict[str, list], flows: Counter, step: int,
           g: Graph, org, zone: ZoneInfo) -> int:
    for group in _groups(events):
        sources, sinks, at = [], [], None
        for _seq, kind, actor, when, element, task_id, data in group:
            at = Tx.when(when)
            if kind == "instance_started":
                sources.extend(g.starts[:1])
            elif kind == "timer_fired" and element:
                sources.append(element)
            elif kind == "task_ready" and task_id:
                step = STEP_OF.get(element, step)
                payload = json.loads(data)
                due = payload.get("due_at")
                if task_id not in spans:
                    spans[task_id] = [iid, task_id, request.process_version_id, element, STEP_OF.get(element, step),
                                      request.urgency, org.department_of(payload.get("assignee")), at,
                                      datetime.fromisoformat(due) if due else None, None, "open", None]
                if element:
                    sinks.append(element)
            elif kind in ("task_completed", "task_cancelled") and task_id:
                if kind == "task_completed" and element:
                    sources.append(element)
                span = spans.get(task_id)
                if span is not None and span[10] == "open":
                    span[9], span[10] = at, "completed" if kind == "task_completed" else "cancelled"
                    span[11] = int((at - span[7]).total_seconds())
                    if kind == "task_completed":
                        span[6] = org.department_of(actor) or span[6]
            elif kind == "satisfaction_rated":
                request.rated_at, request.score = at, json.loads(data).get("score")
            elif kind == "instance_completed":
                end = json.loads(data).get("end_event")
                if end:
                    sinks.append(end)
        if at is not None and (sources or sinks):
            day = at.astimezone(zone).date()
            for fid, n in cached_flows(g, sources, sinks).items():
                flows[(fid, day, request.process_version_id)] += n
    return step


_TABLES = {  # the rows of a request, written anew whenever its chain moved
    "analytics_task_span": "instance_id, task_id, process_version_id, element_id, step, urgency, department_id, "
                           "ready_at, due_at, ended_at, outcome, seconds",
    "analytics_step_span": "instance_id, step, started_at, ended_at, seconds",
    "analytics_flow": "instance_id, flow_id, day, process_version_id, taken",
    "analytics_request_dept": "instance_id, department_id",
    "analytics_instance": "instance_id, seq, step, status, department_id, rated_at, score",
}


def _rows(tx: Tx, iid: str, request: _Request, spans: dict[str, list], flows: Counter, step: int, seq: int,
          out: dict[str, list]) -> None:
    """Add the request's rows of each table of _TABLES to `out`."""
    out["analytics_task_span"] += [(*s[:7], tx.stamp(s[7]), tx.stamp(s[8]), tx.stamp(s[9]), s[10], s[11])
                                   for s in spans.values()]
    by_step: dict[int, list] = {}
    for s in spans.values():
        found = by_step.setdefault(s[4], [s[7], s[9], s[10] == "open"])
        found[0] = min(found[0], s[7])
        found[1] = max(found[1], s[9]) if found[1] and s[9] else (found[1] or s[9])
        found[2] = found[2] or s[10] == "open"
    out["analytics_step_span"] += [(iid, st, tx.stamp(start), None if still else tx.stamp(end),
                                    None if still or end is None else int((end - start).total_seconds()))
                                   for st, (start, end, still) in sorted(by_step.items())]
    out["analytics_flow"] += [(iid, fid, day if tx.postgres else day.isoformat(), version_id, n)
                              for (fid, day, version_id), n in sorted(flows.items())]
    out["analytics_request_dept"] += [(iid, d) for d in sorted(request.departments)]
    out["analytics_instance"].append((iid, seq, step, request.status, request.answers_for,
                                      tx.stamp(request.rated_at), request.score))


def _write(tx: Tx, known: list[str], out: dict[str, list]) -> None:
    """Replace the rows of the batch's requests: a few statements per table, not per request (on
    PostgreSQL each statement is a round trip)."""
    for table, columns in _TABLES.items():
        for i in range(0, len(known), 500):
            chunk = known[i:i + 500]
            tx.run(f"DELETE FROM {table} WHERE instance_id IN ({tx.in_list(chunk)})", chunk)
        analytics_days.insert(tx, f"INSERT INTO {table} ({columns})", out[table])
