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
- the per-day summaries of engine.services.analytics_days and the current plans' tasks of
  engine.services.analytics_red, in the same transaction.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from lxml import etree

from engine.bootstrap import Services
from engine.bpmn.safe_xml import parse_bpmn_bytes
from engine.db.tx import Tx
from engine.services import analytics_days, analytics_red
from engine.services.org import directory

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
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
_PASSABLE = frozenset({"exclusiveGateway", "parallelGateway", "inclusiveGateway", "complexGateway", "scriptTask",
                       "serviceTask", "task", "sendTask", "businessRuleTask", "manualTask", "intermediateThrowEvent",
                       "startEvent", "endEvent", "subProcess", "exit"})
_WAITING = frozenset({"intermediateCatchEvent", "endEvent"})
BATCH = 200  # instances per refresh transaction


@dataclass
class Graph:
    """A process diagram as the flow inference walks it."""

    kinds: dict[str, str] = field(default_factory=dict)  # node -> BPMN kind ("exit" for a subprocess's way out)
    out: dict[str, list[tuple[str, str | None]]] = field(default_factory=dict)  # node -> [(target, flow id)]
    incoming: Counter = field(default_factory=Counter)  # node -> sequence flows into it
    starts: list[str] = field(default_factory=list)  # the process's own start events
    flows: dict[str, tuple[str, str]] = field(default_factory=dict)  # flow id -> (source, target)
    multi_flows: set[str] = field(default_factory=set)  # flows inside a multi-instance subprocess
    multi: set[str] = field(default_factory=set)  # multi-instance activities
    names: dict[str, str] = field(default_factory=dict)  # element id -> name
    memo: dict = field(default_factory=dict, compare=False)  # (sources, sinks) -> flows taken


def _local(el) -> str:
    return etree.QName(el).localname


@lru_cache(maxsize=16)
def graph_of(filename: str, xml: str, process_id: str) -> Graph:
    """The graph of one process of a BPMN file (its embedded subprocesses included)."""
    root = parse_bpmn_bytes(xml.encode("utf-8"), filename)
    process = next((p for p in root.iter(f"{{{BPMN}}}process") if p.get("id") == process_id), None)
    g = Graph()
    if process is None:
        return g

    def walk(container, sub: str | None, multi: bool) -> None:
        for el in container:
            if not isinstance(el.tag, str) or not el.get("id"):
                continue
            kind, ident = _local(el), el.get("id")
            if kind == "sequenceFlow":
                source, target = el.get("sourceRef"), el.get("targetRef")
                g.flows[ident] = (source, target)
                if multi:
                    g.multi_flows.add(ident)
                continue
            if kind in ("laneSet", "property", "dataObject", "dataObjectReference", "textAnnotation", "association",
                        "documentation", "extensionElements", "ioSpecification"):
                continue
            g.kinds[ident] = kind
            g.names[ident] = el.get("name") or ident
            g.out.setdefault(ident, [])
            is_multi = el.find(f"{{{BPMN}}}multiInstanceLoopCharacteristics") is not None
            if is_multi:
                g.multi.add(ident)
            if kind == "startEvent":
                if sub is None:
                    g.starts.append(ident)
                else:
                    g.out[sub].append((ident, None))
            if kind == "endEvent" and sub is not None:
                g.out[ident].append((f"{sub}#exit", None))
            if kind == "subProcess":
                g.kinds[f"{ident}#exit"] = "exit"
                g.out.setdefault(f"{ident}#exit", [])
                walk(el, ident, multi or is_multi)

    walk(process, None, False)
    for fid, (source, target) in g.flows.items():
        start = f"{source}#exit" if g.kinds.get(source) == "subProcess" else source
        g.out.setdefault(start, []).append((target, fid))
        g.incoming[target] += 1
    return g


def _flows_cached(g: Graph, sources: list[str], sinks: list[str]) -> dict[str, int]:
    """flows_of_command, remembered per graph: commands repeat from request to request."""
    key = (tuple(sources), tuple(sorted(sinks)))
    found = g.memo.get(key)
    if found is None:
        found = g.memo[key] = flows_of_command(g, sources, sinks)
    return found


def flows_of_command(g: Graph, sources: list[str], sinks: list[str]) -> dict[str, int]:
    """Flow id -> times taken by one command that completed `sources` and reached `sinks` (elements,
    a sink once per task made ready); elements of other diagrams (a called process) stand for the
    call activities."""
    if not g.kinds:
        return {}
    calls = [n for n, k in g.kinds.items() if k == "callActivity"]
    starts = [s for s in sources if s in g.kinds]
    if any(s not in g.kinds for s in sources):
        starts += calls  # a called process ended: its call activity goes on
    pred: dict[str, tuple[str, str | None]] = {}
    origin: dict[str, str] = {s: s for s in starts}
    queue = list(dict.fromkeys(starts))
    seen = set(queue)
    for node in queue:  # breadth first, through unrecorded elements only
        for target, fid in g.out.get(node, ()):
            if target in seen:
                continue
            seen.add(target)
            pred[target] = (node, fid)
            origin[target] = origin[node]
            if g.kinds.get(target) in _PASSABLE:
                queue.append(target)
    counts: dict[str, int] = {}
    used: set[str] = set()
    per_sink = Counter(sinks)
    wanted = [k for k in per_sink if k in g.kinds]
    if any(k not in g.kinds for k in per_sink):  # a called process was entered
        entered = next((n for n in queue + list(seen) if n in calls and n in pred), None)
        if entered:
            wanted.append(entered)
    for sink in wanted:
        if sink not in pred:
            continue
        used.add(origin[sink])
        node, times = sink, per_sink.get(sink, 1)
        while node in pred:
            node, fid = pred[node]
            if fid is not None:
                counts[fid] = max(counts.get(fid, 0), times if fid in g.multi_flows else 1)
    for source in starts:  # a completion that made nothing ready: the way on to where its token rests
        if source in used or source in g.multi or source not in sources:
            continue
        ways = _resting_ways(g, source)
        for fid in set.intersection(*ways) if ways else ():
            counts[fid] = max(counts.get(fid, 0), 1)
    return counts


def _resting_ways(g: Graph, source: str) -> list[set[str]]:
    """The flows of each way from `source`, through unrecorded elements, to where a token rests
    without anything recorded: an end event, a waiting event, a join. A way into a user task or a
    call activity would have made it ready, so the command did not take it."""
    ways: list[set[str]] = []

    def walk(node: str, path: list[str], visited: set[str]) -> None:
        if len(ways) > 64 or len(path) > 100:
            return
        for target, fid in g.out.get(node, ()):
            if target in visited:
                continue
            step = [*path, fid] if fid else path
            kind = g.kinds.get(target)
            joins = kind in ("parallelGateway", "inclusiveGateway") and g.incoming[target] > 1
            if kind in _WAITING or joins:
                ways.append(set(step))
            elif kind in _PASSABLE:
                walk(target, step, visited | {target})

    walk(source, [], {source})
    return ways


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
            for fid, n in _flows_cached(g, sources, sinks).items():
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
