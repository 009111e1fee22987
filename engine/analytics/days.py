"""Per-day summaries of the derived tables, kept by analytics refresh and read by the dashboard.

A period is whole local days, so its figures are sums over its days: per scope ('' for every
request, else one department the requests concern, which that department's head reads):

- analytics_task_day: per process version, day and user task, the tasks completed, their total
  seconds and each one's seconds in ascending order: the average is the total over the count, and
  the 90th percentile (nearest rank) is taken from the days' sorted lists merged, exactly as from
  the tasks themselves, without reading a row per task;
- analytics_sla_day: per day and urgency, the tasks with a due time completed, and those on time;
- analytics_flow_dept_day: per department, version, day and flow, the times taken (every request's
  sums are analytics_flow_day).

The refresh keeps them by difference: what each touched request contributed before (its rows as
read) and contributes now, in the same transaction as the rows themselves.
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left, insort
from collections import Counter, defaultdict
from datetime import date
from zoneinfo import ZoneInfo

from engine.db.tx import Tx

ALL = ""  # the scope of every request
_CHUNK = 400  # keys per read of analytics_task_day
_ROWS = 400  # rows per statement of insert() on SQLite: under its limit of parameters


def pack(values) -> bytes:
    """Sorted seconds as stored: 4-byte little-endian integers."""
    found = array("i", values)
    if sys.byteorder == "big":
        found.byteswap()
    return found.tobytes()


def unpack(blob) -> array:
    found = array("i")
    found.frombytes(bytes(blob))
    if sys.byteorder == "big":
        found.byteswap()
    return found


def insert(tx: Tx, head: str, rows: list[tuple], tail: str = "", types: tuple[str, ...] = ()) -> None:
    """`head` (INSERT INTO table (columns)) VALUES rows `tail`, in few round trips: on PostgreSQL a
    plain insert is one COPY and an upsert one statement over arrays of the columns (`types`, their
    PostgreSQL types); on SQLite many rows go in each statement. Rows must differ in their keys."""
    if not rows:
        return
    if tx.postgres and not tail:
        with tx.cursor.copy(f"COPY {head.removeprefix('INSERT INTO ')} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    if tx.postgres:
        arrays = ", ".join(f"?::{t}[]" for t in types)
        tx.run(f"{head} SELECT * FROM unnest({arrays}){tail}", [list(column) for column in zip(*rows, strict=True)])
        return
    one = "(" + ", ".join("?" * len(rows[0])) + ")"
    for i in range(0, len(rows), _ROWS):
        chunk = rows[i:i + _ROWS]
        tx.run(f"{head} VALUES {', '.join([one] * len(chunk))}{tail}", [p for r in chunk for p in r])


def facts(spans, departments: set[str], flows: Counter, zone: ZoneInfo) -> Counter:
    """What one request contributes to the summaries, as countable facts: ("t", scope, version, day,
    element, seconds), ("s", scope, day, urgency, on time) and ("f", department, version, day, flow)."""
    found: Counter = Counter()
    scopes = (ALL, *sorted(departments))
    for s in spans:
        if s[10] != "completed" or s[9] is None:
            continue
        day = s[9].astimezone(zone).date()
        for scope in scopes:
            found[("t", scope, s[2], day, s[3], s[11])] += 1
            if s[8] is not None:
                found[("s", scope, day, s[5] or "", s[9] <= s[8])] += 1
    for (fid, day, version_id), n in flows.items():
        for dept in departments:
            found[("f", dept, version_id, day, fid)] += n
    return found


def write(tx: Tx, change: Counter) -> None:
    """Apply the difference of facts (after minus before, every touched request of a batch)."""
    tasks: dict[tuple, Counter] = defaultdict(Counter)
    sla: Counter = Counter()
    flows: Counter = Counter()
    for fact, n in change.items():
        if not n:
            continue
        if fact[0] == "t":
            tasks[fact[1:5]][fact[5]] += n
        elif fact[0] == "s":
            key = fact[1:4]
            sla[(*key, "due")] += n
            if fact[4]:
                sla[(*key, "on_time")] += n
        else:
            flows[fact[1:]] += n
    _write_tasks(tx, {k: v for k, v in tasks.items() if any(v.values())})
    day = (lambda d: d) if tx.postgres else date.isoformat
    keys = sorted({k[:3] for k in sla})
    insert(tx, "INSERT INTO analytics_sla_day (scope, day, urgency, due, on_time)",
           [(s, day(d), u, sla[(s, d, u, "due")], sla[(s, d, u, "on_time")]) for s, d, u in keys
            if sla[(s, d, u, "due")] or sla[(s, d, u, "on_time")]],
           " ON CONFLICT (scope, day, urgency) DO UPDATE SET due = analytics_sla_day.due + excluded.due, "
           "on_time = analytics_sla_day.on_time + excluded.on_time", ("text", "date", "text", "int", "int"))
    insert(tx, "INSERT INTO analytics_flow_dept_day (department_id, process_version_id, day, flow_id, taken)",
           [(dept, v, day(d), fid, n) for (dept, v, d, fid), n in sorted(flows.items()) if n],
           " ON CONFLICT (department_id, process_version_id, day, flow_id) DO UPDATE SET "
           "taken = analytics_flow_dept_day.taken + excluded.taken", ("text", "int", "date", "text", "int"))


def _write_tasks(tx: Tx, changes: dict[tuple, Counter]) -> None:
    keys = sorted(changes)
    day = (lambda d: d) if tx.postgres else date.isoformat
    stored: dict[tuple, array] = {}
    for i in range(0, len(keys), _CHUNK):
        chunk = keys[i:i + _CHUNK]
        if tx.postgres:  # the keys as four arrays: a short statement for the driver to convert
            wanted, params = "SELECT * FROM unnest(?::text[], ?::int[], ?::date[], ?::text[])", [
                list(column) for column in zip(*chunk, strict=True)]
        else:
            wanted = "VALUES " + ",".join(["(?, ?, ?, ?)"] * len(chunk))
            params = [p for scope, v, d, element in chunk for p in (scope, v, day(d), element)]
        for scope, v, d, element, blob in tx.all(
                "SELECT scope, process_version_id, day, element_id, seconds FROM analytics_task_day WHERE "
                f"(scope, process_version_id, day, element_id) IN ({wanted})", params):
            stored[(scope, v, d if isinstance(d, date) else date.fromisoformat(d), element)] = unpack(blob)
    gone, kept = [], []
    for key in keys:
        values = stored.get(key, array("i"))
        for seconds, n in sorted(changes[key].items()):
            for _ in range(n):
                insort(values, seconds)
            for _ in range(-n):
                at = bisect_left(values, seconds)
                if at < len(values) and values[at] == seconds:
                    del values[at]
        scope, v, d, element = key
        if values:
            kept.append((scope, v, day(d), element, len(values), sum(values), pack(values)))
        elif key in stored:
            gone.append((scope, v, day(d), element))
    tx.many("DELETE FROM analytics_task_day WHERE scope = ? AND process_version_id = ? AND day = ? AND element_id = ?",
            gone)
    insert(tx, "INSERT INTO analytics_task_day (scope, process_version_id, day, element_id, tasks, total, seconds)",
           kept, " ON CONFLICT (scope, process_version_id, day, element_id) DO UPDATE SET tasks = excluded.tasks, "
           "total = excluded.total, seconds = excluded.seconds",
           ("text", "int", "date", "text", "int", "bigint", "bytea"))


# --- reading ---------------------------------------------------------------------------------------

def _days(tx: Tx, first: date, last: date) -> tuple:
    return (first, last) if tx.postgres else (first.isoformat(), last.isoformat())


def task_times(tx: Tx, scope: str, version_id: int, first: date, last: date) -> dict:
    """element -> (count, average seconds, 90th percentile seconds) of the tasks completed from
    `first` to `last` (local days, both included)."""
    counts: Counter = Counter()
    totals: Counter = Counter()
    values: dict[str, array] = defaultdict(lambda: array("i"))
    for element, n, total, blob in tx.all(
            "SELECT element_id, tasks, total, seconds FROM analytics_task_day WHERE scope = ? AND "
            "process_version_id = ? AND day >= ? AND day <= ?", (scope, version_id, *_days(tx, first, last))):
        counts[element] += n
        totals[element] += total
        values[element].frombytes(bytes(blob))
    out = {}
    for element in sorted(counts):
        found = values[element]
        if sys.byteorder == "big":
            found.byteswap()
        n = counts[element]
        out[element] = (n, totals[element] / n, sorted(found)[-(-9 * n // 10) - 1])
    return out


def sla(tx: Tx, scope: str, first: date, last: date) -> list[tuple]:
    """(urgency or None, due, on time) of the tasks with a due time completed in the days."""
    rows = tx.all("SELECT urgency, SUM(due), SUM(on_time) FROM analytics_sla_day WHERE scope = ? AND day >= ? "
                  "AND day <= ? GROUP BY urgency", (scope, *_days(tx, first, last)))
    return [(u or None, int(n), int(on_time)) for u, n, on_time in rows if n]


def flows(tx: Tx, department: str, version_id: int, first: date, last: date) -> dict[str, int]:
    """flow -> times taken in the days by the requests `department` is concerned in."""
    rows = tx.all("SELECT flow_id, SUM(taken) FROM analytics_flow_dept_day WHERE department_id = ? AND "
                  "process_version_id = ? AND day >= ? AND day <= ? GROUP BY flow_id",
                  (department, version_id, *_days(tx, first, last)))
    return {f: int(n) for f, n in rows if n}
