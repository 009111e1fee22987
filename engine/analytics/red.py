"""The red warnings of the running requests (rules of engine.requests.records.red_warnings), derived
by analytics refresh and read by the dashboard.

analytics_plan_task holds each task of the current plan of each running request with its latest
progress update, written anew whenever the request's chain moved (a plan saved or revised,
progress posted, the request closed). What turns a task red with time alone (its planned end
coming within 24 hours, a 进行中 update growing older than 24 hours) only moves forward, and never
turns it back, so each row keeps the first moment it is red (red_from): the red tasks of now are
those with red_from at or before now, one range of one index; their reasons are then told by the
same rules as records.red_warnings.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from engine.analytics.days import insert
from engine.db.tx import Tx
from engine.requests.records import plan_deadline

DAY = timedelta(hours=24)
ALWAYS = datetime(1970, 1, 1, tzinfo=UTC)  # red_from of a risk or a call for support
_TICK = timedelta(microseconds=1)  # "more than 24 hours": the first stored moment after


def red_from(status: str, risk: bool, latest_at: datetime | None, end: date, zone: ZoneInfo) -> datetime | None:
    """The first moment the task is red, None if no time makes it red."""
    if risk or status == "待支持":
        return ALWAYS
    times = []
    if status != "已完成":
        times.append(plan_deadline(end, zone).astimezone(UTC) - DAY)
    if latest_at is not None and status == "进行中":
        times.append(latest_at + DAY + _TICK)
    return min(times, default=None)


def _day(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def write(tx: Tx, touched: list[str], running: dict[str, tuple[str, str]], zone: ZoneInfo) -> None:
    """Rewrite the plan tasks of the touched requests; `running`: id -> (request number, title) of
    those still running."""
    for i in range(0, len(touched), 400):
        chunk = touched[i:i + 400]
        tx.run(f"DELETE FROM analytics_plan_task WHERE instance_id IN ({tx.in_list(chunk)})", chunk)
    ids = sorted(i for i in touched if i in running)
    rows = []
    for i in range(0, len(ids), 400):
        chunk = ids[i:i + 400]
        marks = tx.in_list(chunk)
        tasks = tx.all("SELECT p.instance_id, t.task_key, t.position, t.title, t.department_id, t.owner, "
                       "t.planned_end FROM coordination_plan p JOIN plan_task t ON t.plan_id = p.id "
                       f"WHERE p.instance_id IN ({marks}) AND p.version = (SELECT MAX(q.version) FROM "
                       "coordination_plan q WHERE q.instance_id = p.instance_id)", chunk)
        if not tasks:
            continue
        latest = {(iid, key): (status, bool(risk), Tx.when(at)) for iid, key, status, risk, at in tx.all(
            f"SELECT instance_id, plan_task_key, status, risk, created_at FROM progress_update WHERE id IN "
            f"(SELECT MAX(id) FROM progress_update WHERE instance_id IN ({marks}) AND plan_task_key IS NOT NULL "
            f"GROUP BY instance_id, plan_task_key)", chunk)}
        for iid, key, position, title, dept, owner, end in tasks:
            status, risk, at = latest.get((iid, key), ("未开始", False, None))
            end = _day(end)
            number, request_title = running[iid]
            rows.append((iid, key, number, request_title, position, title, dept, owner,
                         end if tx.postgres else end.isoformat(), status, risk, tx.stamp(at),
                         tx.stamp(red_from(status, risk, at, end, zone))))
    insert(tx, "INSERT INTO analytics_plan_task (instance_id, task_key, request_no, request_title, position, title, "
           "department_id, owner, planned_end, status, risk, latest_at, red_from)", rows)


def red_now(tx: Tx, now: datetime, zone: ZoneInfo, departments: tuple[str, ...] | None,
            dept_name: Callable[[str], str], user_name: Callable[[str], str]) -> list[dict]:
    """The red tasks at `now` of the running requests (of those `departments` are concerned in,
    unless None), by request number and plan order."""
    cond, params = "", ()
    if departments is not None:
        cond = (" AND EXISTS (SELECT 1 FROM analytics_request_dept d WHERE d.instance_id = t.instance_id AND "
                f"d.department_id IN ({tx.in_list(departments)}))")
        params = departments
    rows = tx.all("SELECT t.request_no, t.position, t.instance_id, t.task_key, t.request_title, t.title, "
                  "t.department_id, t.owner, t.planned_end, t.status, t.risk, t.latest_at FROM analytics_plan_task t "
                  f"WHERE t.red_from <= ?{cond}", (tx.stamp(now), *params))
    rows.sort(key=lambda r: (r[0], r[1]))
    names: dict[str, str] = {}
    people: dict[str, str] = {}
    stale_before = tx.stamp(now - DAY)
    deadlines: dict = {}  # planned end as stored -> (date, whether within 24 hours of it now)
    out = []
    for number, _, iid, key, request_title, title, dept, owner, end, status, risk, at in rows:
        if end not in deadlines:
            day = _day(end)
            deadlines[end] = (day, plan_deadline(day, zone) - now <= DAY)
        day, near = deadlines[end]
        why = []  # the rules of records.red_warnings, the deadline told once per date
        if risk:
            why.append("risk")
        if status == "待支持":
            why.append("needs_support")
        if status != "已完成" and near:
            why.append("deadline")
        if at is not None and status == "进行中" and at < stale_before:  # now - at > DAY, as stored
            why.append("stale")
        if not why:
            continue
        if dept not in names:
            names[dept] = dept_name(dept)
        if owner not in people:
            people[owner] = user_name(owner)
        out.append({"instance_id": iid, "request_no": number, "request_title": request_title, "task_key": key,
                    "title": title, "department_id": dept, "department": names[dept], "owner": owner,
                    "owner_name": people[owner], "planned_end": day.isoformat(), "reasons": why})
    return out
