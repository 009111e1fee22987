"""A process version's diagram as a graph of flows, and which flows one command took: from the tasks it
completed to those it made ready, through the elements nothing records (gateways, scripts, events)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from lxml import etree

from engine.bpmn.safe_xml import parse_bpmn_bytes

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_PASSABLE = frozenset({"exclusiveGateway", "parallelGateway", "inclusiveGateway", "complexGateway", "scriptTask",
                       "serviceTask", "task", "sendTask", "businessRuleTask", "manualTask", "intermediateThrowEvent",
                       "startEvent", "endEvent", "subProcess", "exit"})
_WAITING = frozenset({"intermediateCatchEvent", "endEvent"})


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


def cached_flows(g: Graph, sources: list[str], sinks: list[str]) -> dict[str, int]:
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
