"""Recognition of departments that cooperated well (协作之星), per period, from the records of requests.

The rule. A request counts in the period (a month 2026-11, a quarter 2026-Q4 or a year 2026, in the
organisation's time zone) in which it was completed, i.e. closed after its retrospective. The
departments that took part in it are those with a task in its latest coordination plan, those
listed in its retrospective, and those the admin named when distilling its lessons. Each of them is
recognised for the request when
- "named": the admin named it among the departments to recognise (表彰协作部门) when distilling the
  request's lessons; or
- the requester rated the request 4 or 5 (satisfaction >= 4) and at least one of
  - "highlight": the retrospective's highlights (协作亮点) mention the department by name or id;
  - "on_time": it had tasks in the latest plan and delivered each of them on time: a deliverable
    for the task was submitted by the end of its planned end date.
A department's stars in the period are the number of requests it is recognised for; the board lists
the departments with at least one, most stars first, each with the requests behind its stars and
the reasons. Admins may add a citation note (表彰说明) to a department's place on a period's board.

Everything is derived from the records at the time of asking (nothing is stored but the notes), so
the numbers always match the requests' own pages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.context import Services
from engine.db.models import (
    AuditEvent,
    CoordinationPlan,
    Deliverable,
    Department,
    GroupMembership,
    PlanTask,
    ProcessInstance,
    RecognitionNote,
    RequestSummary,
    Retrospective,
    Satisfaction,
)
from engine.db.models.requests import number_order
from engine.errors import InvalidInput, NotFound, PermissionDenied
from engine.messages import Msg

ADMIN_GROUP = "platform_admins"
GOOD_SCORE = 4
NAMED_FIELD = "recognised_depts"  # the lessons step's form field (表彰协作部门)
REASONS = ("named", "highlight", "on_time")
NOTE_MAX = 1_000
CHUNK = 500  # instance ids per IN list

_PERIOD = re.compile(r"^(\d{4})(?:-(?:(0[1-9]|1[0-2])|Q([1-4])))?$")


def parse_period(value: object) -> tuple[str, date, date]:
    """(label, first day, day after the last) of a period: 2026-11, 2026-Q4 or 2026."""
    if not isinstance(value, str) or not _PERIOD.match(value.strip().upper()):
        raise InvalidInput("period.invalid", given=repr(value))
    label = value.strip().upper()
    year, month, quarter = _PERIOD.match(label).groups()
    y = int(year)
    if month:
        first = date(y, int(month), 1)
        after = date(y + (first.month == 12), first.month % 12 + 1, 1)
    elif quarter:
        first = date(y, 3 * int(quarter) - 2, 1)
        after = date(y + (quarter == "4"), (3 * int(quarter)) % 12 + 1, 1)
    else:
        first, after = date(y, 1, 1), date(y + 1, 1, 1)
    return label, first, after


def current_quarter(ctx: Services) -> str:
    """The quarter of today, in the organisation's time zone (the board's default period)."""
    today = ctx.now().astimezone(ZoneInfo(ctx.config.timezone)).date()
    return f"{today.year}-Q{(today.month - 1) // 3 + 1}"


def _utc(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone).astimezone(UTC)


def _chunks(ids: list[str]) -> Iterable[list[str]]:
    for n in range(0, len(ids), CHUNK):
        yield ids[n:n + CHUNK]


# --- what each request's records say -------------------------------------------------------------

def _latest_plans(s: Session, ids: list[str]) -> dict[str, list[PlanTask]]:
    latest = select(CoordinationPlan.instance_id, func.max(CoordinationPlan.version).label("version")) \
        .where(CoordinationPlan.instance_id.in_(ids)).group_by(CoordinationPlan.instance_id).subquery()
    rows = s.execute(select(CoordinationPlan.instance_id, PlanTask)
                     .join(PlanTask, PlanTask.plan_id == CoordinationPlan.id)
                     .join(latest, (latest.c.instance_id == CoordinationPlan.instance_id)
                           & (latest.c.version == CoordinationPlan.version)).order_by(PlanTask.position))
    plans: dict[str, list[PlanTask]] = {}
    for instance_id, task in rows:
        plans.setdefault(instance_id, []).append(task)
    return plans


def _first_deliveries(s: Session, ids: list[str]) -> dict[tuple[str, str], datetime]:
    rows = s.execute(select(Deliverable.instance_id, Deliverable.plan_task_key, func.min(Deliverable.created_at))
                     .where(Deliverable.instance_id.in_(ids), Deliverable.plan_task_key.is_not(None))
                     .group_by(Deliverable.instance_id, Deliverable.plan_task_key))
    return {(i, k): at if at.tzinfo else at.replace(tzinfo=UTC) for i, k, at in rows}


def _retrospectives(s: Session, ids: list[str]) -> dict[str, Retrospective]:
    found: dict[str, Retrospective] = {}
    for row in s.scalars(select(Retrospective).where(Retrospective.instance_id.in_(ids)).order_by(Retrospective.id)):
        found[row.instance_id] = row  # the latest one wins
    return found


def _named(s: Session, ids: list[str]) -> dict[str, list[str]]:
    """The departments the admin named for recognition, per request (the last such completion)."""
    found: dict[str, list[str]] = {}
    rows = s.execute(select(AuditEvent.instance_id, AuditEvent.data).where(
        AuditEvent.instance_id.in_(ids), AuditEvent.event_type == "task_completed",
        AuditEvent.data.like(f"%{NAMED_FIELD}%")).order_by(AuditEvent.instance_id, AuditEvent.seq))
    for instance_id, data in rows:
        value = (json.loads(data).get("data") or {}).get(NAMED_FIELD)
        if isinstance(value, list):
            found[instance_id] = [d for d in value if isinstance(d, str)]
    return found


def _mentions(text: str, dept_id: str, name: str) -> bool:
    folded = (text or "").casefold()
    return name.casefold() in folded or re.search(rf"(?<![a-z0-9]){re.escape(dept_id.casefold())}(?![a-z0-9])",
                                                   folded) is not None


def _request_stars(request: dict, plan: list[PlanTask], delivered: dict, retro: Retrospective | None,
                   named: list[str], names: dict[str, str], zone: ZoneInfo) -> dict[str, list[str]]:
    """Department -> the reasons it is recognised for this request (departments without any left out)."""
    tasks_by_dept: dict[str, list[PlanTask]] = {}
    for task in plan:
        tasks_by_dept.setdefault(task.department_id, []).append(task)
    took_part = set(tasks_by_dept) | set(named)
    if retro is not None:
        listed = json.loads(retro.departments or "[]")
        took_part |= {d for d in listed if isinstance(d, str)}
    good = request["score"] is not None and request["score"] >= GOOD_SCORE
    stars: dict[str, list[str]] = {}
    for dept in sorted(took_part):
        reasons = []
        if dept in named:
            reasons.append("named")
        if good and retro is not None and _mentions(retro.highlights, dept, names.get(dept, dept)):
            reasons.append("highlight")
        tasks = tasks_by_dept.get(dept, [])
        if good and tasks and all(
                (at := delivered.get((request["instance_id"], t.task_key))) is not None
                and at < _utc(t.planned_end + timedelta(days=1), zone) for t in tasks):
            reasons.append("on_time")
        if reasons:  # highlight and on_time only count with a good score
            stars[dept] = reasons
    return stars


# --- the board ----------------------------------------------------------------------------------

def board(ctx: Services, period: str) -> dict:
    """The period's 协作之星 board: {period, from, to, good_score, departments: [{department_id, name,
    stars, reasons: {named, highlight, on_time}, requests: [{instance_id, request_no, title, score,
    completed_at, reasons}], note}]}, most stars first; `to` is the period's last day."""
    label, first, after = parse_period(period)
    zone = ZoneInfo(ctx.config.timezone)
    with ctx.db.read() as s:
        names = dict(s.execute(select(Department.id, Department.name)).all())
        order = dict(s.execute(select(Department.id, Department.sort_order)).all())
        closed = s.execute(
            select(ProcessInstance.id, ProcessInstance.completed_at, RequestSummary.request_no, RequestSummary.title,
                   Satisfaction.score)
            .join(RequestSummary, RequestSummary.instance_id == ProcessInstance.id)
            .outerjoin(Satisfaction, Satisfaction.instance_id == ProcessInstance.id)
            .where(ProcessInstance.status == "completed", ProcessInstance.completed_at >= _utc(first, zone),
                   ProcessInstance.completed_at < _utc(after, zone))
            .order_by(ProcessInstance.completed_at, *number_order(RequestSummary.request_no))).all()
        requests = [{"instance_id": r.id, "request_no": r.request_no, "title": r.title, "score": r.score,
                     "completed_at": r.completed_at.isoformat()} for r in closed]
        ids = [r["instance_id"] for r in requests]
        plans: dict = {}
        delivered: dict = {}
        retros: dict = {}
        named: dict = {}
        for part in _chunks(ids):
            plans.update(_latest_plans(s, part))
            delivered.update(_first_deliveries(s, part))
            retros.update(_retrospectives(s, part))
            named.update(_named(s, part))
        notes = {n.department_id: {"note": n.note, "author": n.author, "updated_at": n.updated_at.isoformat()}
                 for n in s.scalars(select(RecognitionNote).where(RecognitionNote.period == label))}
        # ORM rows of the plans and retrospectives are read while the session is open.
        departments: dict[str, dict] = {}
        for request in requests:
            instance_id = request["instance_id"]
            found = _request_stars(request, plans.get(instance_id, []), delivered, retros.get(instance_id),
                                   named.get(instance_id, []), names, zone)
            for dept, reasons in found.items():
                entry = departments.setdefault(dept, {
                    "department_id": dept, "name": names.get(dept, dept), "stars": 0,
                    "reasons": dict.fromkeys(REASONS, 0), "requests": [], "note": notes.get(dept)})
                entry["stars"] += 1
                for reason in reasons:
                    entry["reasons"][reason] += 1
                entry["requests"].append({**request, "reasons": reasons})
    ranked = sorted(departments.values(), key=lambda d: (-d["stars"], order.get(d["department_id"]) or 0, d["name"]))
    return {"period": label, "from": first.isoformat(), "to": (after - timedelta(days=1)).isoformat(),
            "good_score": GOOD_SCORE, "departments": ranked}


def set_note(ctx: Services, user: str, period: str, department_id: str, note: str) -> dict | None:
    """An admin's citation note on a department's place on a period's board; an empty note removes it.
    The note as stored, or None when removed."""
    label = parse_period(period)[0]
    if not isinstance(note, str):
        raise InvalidInput("text.not_text", what=Msg("what.recognition_note"))
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise InvalidInput("text.too_long", what=Msg("what.recognition_note"), n=len(note), most=NOTE_MAX)
    with ctx.db.write() as s:
        if not isinstance(user, str) or s.get(GroupMembership, (user, ADMIN_GROUP)) is None:
            raise PermissionDenied("admin.required", user=user, action=Msg("action.recognition"))
        if not isinstance(department_id, str) or s.get(Department, department_id) is None:
            raise NotFound("department.unknown", department=department_id)
        row = s.scalar(select(RecognitionNote).where(RecognitionNote.period == label,
                                                     RecognitionNote.department_id == department_id))
        if not note:
            if row is not None:
                s.delete(row)
            return None
        if row is None:
            row = RecognitionNote(period=label, department_id=department_id, note=note, author=user,
                                  updated_at=ctx.now())
            s.add(row)
        else:
            row.note, row.author, row.updated_at = note, user, ctx.now()
        s.flush()
        return {"period": label, "department_id": department_id, "note": note, "author": user,
                "updated_at": row.updated_at.isoformat()}
