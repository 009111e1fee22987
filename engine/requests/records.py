"""The records of a request: progress, comments, meetings, feedback, plans, action tables,
retrospectives and the satisfaction score, one verb each, and the request's timeline.

Records are rows of their own tables (never task data). Each verb is one transaction: it locks
the instance's row, checks that the user is one of the request's people (engine.requests.
record_access), writes the record and appends its event to the instance's audit chain without
touching lock_version, so the cached workflow stays valid. Attachments: engine.requests.attachments.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from engine.context import Services
from engine.db import chain as audit
from engine.db.tx import Tx
from engine.errors import FormInvalid, NotFound, PermissionDenied
from engine.messages import Msg
from engine.requests.record_access import may_post_progress, require_reader, require_writer
from engine.requests.record_rows import KINDS, Origin, check_references, select, validate
from engine.requests.record_write import REQUEST_NO_MAX, latest_plan, write
from engine.workflow.access import identities

DAY = timedelta(hours=24)


def task_element(tx: Tx, instance_id: str, task_id: str | None) -> str | None:
    """The BPMN element of a task of the instance (open or done); NotFound for another's task."""
    if task_id is None:
        return None
    found = tx.one("SELECT element_id FROM audit_event WHERE instance_id = ? AND task_id = ? ORDER BY seq LIMIT 1",
                   (instance_id, task_id))
    if found is None:
        raise NotFound("task.not_in_request", task=task_id, request=instance_id)
    return found[0]


def _record(ctx: Services, instance_id: str, user: str, kind_name: str, raw: dict[str, Any],
            task_id: str | None = None, allow: Callable[[Tx], None] | None = None,
            plan_task_key: str | None = None) -> tuple[int, dict]:
    """Check, write and chain one record in one transaction; its id and its audit event's data."""
    kind = KINDS[kind_name]
    values = validate(kind, raw, ZoneInfo(ctx.config.timezone))
    with ctx.db.transaction() as tx:
        head = audit.lock_chain(tx, instance_id)
        (allow or (lambda t: require_writer(ctx, t, instance_id, user)))(tx)
        check_references(tx, instance_id, kind, values)
        origin = Origin(user, ctx.now(), task_id, task_element(tx, instance_id, task_id))
        rid, data = write(tx, head, kind, values, origin, plan_task_key=plan_task_key)
        audit.append(tx, head, kind.event, user, origin.at, origin.element_id, task_id, data)
    return rid, data


def post_progress(ctx: Services, instance_id: str, user: str, *, status: str, plan_task_key: str | None = None,
                  work_done: str = "", problems: str = "", risk: bool = False, risk_note: str = "",
                  expected_finish: date | str | None = None, task_id: str | None = None) -> int:
    """Report progress (template 3); on a plan task only its owner or the lead head may. An expected
    finish before today (in the organisation's time zone) is refused."""
    finish = expected_finish
    if isinstance(finish, str) and finish.strip():
        try:
            finish = date.fromisoformat(finish.strip())
        except ValueError:
            finish = None  # the record's own check says what is wrong with it
    today = ctx.now().astimezone(ZoneInfo(ctx.config.timezone)).date()
    if isinstance(finish, date) and finish < today:
        raise FormInvalid({"expected_finish": Msg("field.before_today", day=today.isoformat())})

    def allow(tx: Tx) -> None:
        if plan_task_key is None:
            return require_writer(ctx, tx, instance_id, user)
        plan, tasks = latest_plan(tx, instance_id)
        task = next((t for t in tasks if t["task_key"] == plan_task_key), None)
        if task is None:
            require_writer(ctx, tx, instance_id, user)  # others learn nothing about the plan
            raise FormInvalid({"plan_task_key": Msg("plan.task_unknown", key=plan_task_key)})
        if not may_post_progress(ctx, tx, user, task["owner"], plan["lead_department"]):
            raise PermissionDenied("progress.not_owner", key=plan_task_key, user=task["owner"])

    return _record(ctx, instance_id, user, "progress_update", {
        "status": status, "work_done": work_done, "problems": problems, "risk": risk, "risk_note": risk_note,
        "expected_finish": expected_finish}, task_id, allow, plan_task_key)[0]


def add_comment(ctx: Services, instance_id: str, user: str, body: str, *, task_id: str | None = None) -> int:
    """Comment on the request (or on one of its tasks)."""
    return _record(ctx, instance_id, user, "comment", {"body": body}, task_id)[0]


def schedule_meeting(ctx: Services, instance_id: str, user: str, *, starts_at: datetime | str, agenda: str,
                     place: str = "", attendees: list[str] | None = None, task_id: str | None = None) -> int:
    """Announce a coordination meeting; it must start at least 24 hours from now."""
    return _record(ctx, instance_id, user, "meeting", {
        "starts_at": starts_at, "agenda": agenda, "place": place, "attendees": attendees}, task_id)[0]


def record_minutes(ctx: Services, instance_id: str, user: str, *, content: str, conclusions: str = "",
                   attendees: list[str] | None = None, attachment_ids: list[int] | None = None,
                   meeting_id: int | None = None, task_id: str | None = None) -> int:
    """Minutes of a meeting (the request's latest one unless `meeting_id` says which)."""
    return _record(ctx, instance_id, user, "minutes", {
        "content": content, "conclusions": conclusions, "attendees": attendees,
        "attachment_ids": attachment_ids, "meeting_id": meeting_id}, task_id)[0]


def add_feedback(ctx: Services, instance_id: str, user: str, *, content: str, suggested_date: date | str,
                 resources: str = "", remarks: str = "", department_id: str | None = None,
                 task_id: str | None = None) -> int:
    """A department's feedback (template 2); the department defaults to the user's own."""
    return _record(ctx, instance_id, user, "feedback", {
        "content": content, "suggested_date": suggested_date, "resources": resources, "remarks": remarks,
        "department_id": department_id}, task_id)[0]


def save_plan(ctx: Services, instance_id: str, user: str, *, tasks: list[dict], risk_plan: str,
              lead_department: str | None = None, task_id: str | None = None) -> dict:
    """Save the coordination plan as its next version: {id, version, keys} (keys in row order).

    Each task: title, department_id, owner, planned_start, planned_end, delivery_standard and,
    to carry a task over from an earlier version explicitly, its task_key.
    """
    plan_id, data = _record(ctx, instance_id, user, "plan", {
        "tasks": tasks, "risk_plan": risk_plan, "lead_department": lead_department}, task_id)
    return {"id": plan_id, "version": data["version"], "keys": data["tasks"]}


def add_action_items(ctx: Services, instance_id: str, user: str, items: list[dict], *, decision: str = "",
                     task_id: str | None = None) -> int:
    """A problem-solving action table: rows of action, owner and deadline; its id."""
    return _record(ctx, instance_id, user, "action_items", {"items": items, "decision": decision}, task_id)[0]


def add_retrospective(ctx: Services, instance_id: str, user: str, *, goal: str, result: str, highlights: str,
                      problems: str, improvements: str, departments: list[str] | None = None,
                      task_id: str | None = None) -> int:
    """The retrospective (template 4)."""
    return _record(ctx, instance_id, user, "retrospective", {
        "goal": goal, "result": result, "highlights": highlights, "problems": problems,
        "improvements": improvements, "departments": departments}, task_id)[0]


def rate_satisfaction(ctx: Services, instance_id: str, user: str, score: int, remark: str = "", *,
                      task_id: str | None = None) -> int:
    """The requester's satisfaction score, 1 to 5, once per request."""
    def allow(tx: Tx) -> None:
        (initiator,) = tx.one("SELECT initiator FROM process_instance WHERE id = ?", (instance_id,))
        require_writer(ctx, tx, instance_id, user)
        if initiator not in identities(ctx, user):
            raise PermissionDenied("satisfaction.not_requester", user=initiator)

    return _record(ctx, instance_id, user, "satisfaction", {"score": score, "remark": remark}, task_id, allow)[0]


# --- reading ------------------------------------------------------------------------------------

# kind -> table; lessons are entries of the knowledge base, read apart.
_READ = {"attachment": "attachment", **{k.name: k.table for k in KINDS.values() if k.name != "lesson"}}
_EVENTS = (*sorted({k.event for k in KINDS.values()}), "attachment_added")


def _plain(value: Any) -> Any:
    """A value as JSON has it: dates and times in ISO 8601."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def list_records(ctx: Services, instance_id: str, user: str) -> list[dict]:
    """Every record of the request in the order written, newest last; each with its kind.

    The order is the audit chain's, which also orders records written in one transaction.
    """
    with ctx.db.transaction(write=False) as tx:
        found = tx.one("SELECT business_key FROM process_instance WHERE id = ?", (instance_id,))
        if found is None:
            raise NotFound("request.unknown", request=instance_id)
        require_reader(ctx, tx, instance_id, user)
        number = found[0] if found[0] and len(found[0]) <= REQUEST_NO_MAX else None
        order = {}
        marks = tx.in_list(_EVENTS)
        for seq, data in tx.all(f"SELECT seq, data FROM audit_event WHERE instance_id = ? AND event_type IN "
                                f"({marks})", (instance_id, *_EVENTS)):
            event = json.loads(data)
            order[(event.get("record"), event.get("id"))] = seq
        records = []
        for kind, table in _READ.items():
            for row in select(tx, table, "instance_id = ?", (instance_id,)):
                records.append({"kind": kind, **row})
        # Lessons are found through knowledge_entry's request_no index when the request has a number.
        lessons = ("request_no = ? AND instance_id = ?", (number, instance_id)) if number else \
            ("instance_id = ?", (instance_id,))
        for entry in select(tx, "knowledge_entry", *lessons):
            records.append({"kind": "lesson", "author": entry["proposed_by"], "created_at": entry["proposed_at"],
                            "tags": [t for t in entry["tags"].split(",") if t],
                            **{k: entry[k] for k in ("id", "request_no", "instance_id", "title", "body", "status")}})
        _children(tx, records)
    records.sort(key=lambda r: (order.get((r["kind"], r["id"]), 1 << 62), r["created_at"], r["id"]))
    return [_plain(r) for r in records]


def _children(tx: Tx, found: list[dict]) -> None:
    for record in found:
        if record["kind"] == "plan":
            record["tasks"] = select(tx, "plan_task", "plan_id = ?", (record["id"],), order="position")
        elif record["kind"] == "action_items":
            record["items"] = select(tx, "action_item", "table_id = ?", (record["id"],), order="position")


WORKDAY_ENDS = time(18, 0)  # a plan date is kept when the work is in by the end of that working day


def plan_deadline(day: date, zone: ZoneInfo) -> datetime:
    """What a plan date means as a deadline: the end of that working day (18:00), local time."""
    return datetime.combine(day, WORKDAY_ENDS, zone)


def red_warnings(ctx: Services, instance_id: str) -> list[dict]:
    """The red tasks of the current plan (红色预警), derived now and never stored.

    A task of the plan's latest version is red, at ctx.now(), for each of these reasons:
    - "risk": its latest progress update reports a risk;
    - "needs_support": its latest update has status 待支持;
    - "deadline": its latest status is not 已完成 (no update counts as not done) and its planned
      end, the end of the planned end date's working day in the organisation's time zone, is 24 hours away or
      less, or past;
    - "stale": its latest status is 进行中 and that update is more than 24 hours old.
    Each red task: task_key, title, department_id, owner, planned_end, reasons, latest (the id
    of the latest progress update, or None). Tasks in plan order.
    """
    now = ctx.now()
    zone = ZoneInfo(ctx.config.timezone)
    with ctx.db.transaction(write=False) as tx:
        if tx.one("SELECT id FROM process_instance WHERE id = ?", (instance_id,)) is None:
            raise NotFound("request.unknown", request=instance_id)
        _, tasks = latest_plan(tx, instance_id)
        # max(id) per key is read from ix_progress_update_task (instance_id, plan_task_key, id) alone.
        latest = {p["plan_task_key"]: p for p in select(
            tx, "progress_update", "id IN (SELECT max(id) FROM progress_update WHERE instance_id = ? "
            "AND plan_task_key IS NOT NULL GROUP BY plan_task_key)", (instance_id,))}
    red = []
    for task in tasks:
        last = latest.get(task["task_key"])
        status = last["status"] if last else "未开始"
        reasons = []
        if last and last["risk"]:
            reasons.append("risk")
        if status == "待支持":
            reasons.append("needs_support")
        if status != "已完成" and plan_deadline(task["planned_end"], zone) - now <= DAY:
            reasons.append("deadline")
        if last and status == "进行中" and now - last["created_at"] > DAY:
            reasons.append("stale")
        if reasons:
            red.append({"task_key": task["task_key"], "title": task["title"], "department_id": task["department_id"],
                        "owner": task["owner"], "planned_end": task["planned_end"].isoformat(), "reasons": reasons,
                        "latest": last["id"] if last else None})
    return red
