"""Collaboration requests: filing one numbers it (XMBG-YYYYMM###), writes its summary row and
starts its process, in one transaction."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from engine.context import Services
from engine.db.tx import Tx
from engine.errors import NotFound
from engine.org.directory import directory
from engine.workflow.instances import start_instance
from engine.workflow.reactions import Start
from engine.workflow.runner import CommandResult

REQUEST_PROCESS = "collaboration_request"
NUMBER_PREFIX = "XMBG"


def submit_request(ctx: Services, user: str, data: dict, process_id: str = REQUEST_PROCESS) -> CommandResult:
    """File a request as `user`: the form is checked, the number taken and the flow started at once."""
    people = directory(ctx)
    if user not in people.users:
        raise NotFound("user.not_in_org", user=user)
    return start_instance(ctx, process_id, user, data, prepare=numbered,
                          context={"requester": user, "requester_dept": people.department_of(user)})


def numbered(start: Start) -> None:
    """The request gets the next number of the month as its business key and `request_no`, taken in
    the start's transaction (so numbers have no gaps), and its summary row."""
    key = next_number(start.ctx, start.tx, NUMBER_PREFIX, start.now)
    start.row.business_key = key
    start.values.update(request_no=key, submitted_at=start.now.isoformat())
    _summarise(start)


_SUMMARY_INSERT = (
    "INSERT INTO request_summary (instance_id, request_no, process_id, title, request_type, urgency, priority, "
    "requester, requester_dept, lead_dept, involved_depts, expected_date, submitted_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


def _summarise(start: Start) -> None:
    """The request's row for lists and filters (written after the instance row, with the command)."""
    tx, row, values = start.tx, start.row, start.values
    depts = values.get("involved_depts") or values.get("conflict_parties") or []
    title = values.get("title") or values.get("conflict_topic") or row.business_key
    tx.queue(_SUMMARY_INSERT, (
        row.id, row.business_key, row.process_id, str(title)[:255], values.get("request_type"),
        values.get("urgency"), values.get("priority"), values.get("requester") or row.initiator,
        values.get("requester_dept"), None, ",".join(depts), values.get("expected_date"), tx.stamp(start.now)))


def next_number(ctx: Services, tx: Tx, prefix: str, now: datetime) -> str:
    """The month's next number; the counter row stays locked until this transaction ends, so
    concurrent starts queue and a rolled-back start gives its number back."""
    period = now.astimezone(ZoneInfo(ctx.config.timezone)).strftime("%Y%m")
    counter = f"{prefix}-{period}"
    (number,) = tx.one("INSERT INTO request_counter (period, last_number) VALUES (?, 1) ON CONFLICT (period) "
                       "DO UPDATE SET last_number = request_counter.last_number + 1 RETURNING last_number",
                       (counter,))
    return f"{counter}{number:03d}"  # past 999 the number simply grows a digit: XMBG-2026121000


