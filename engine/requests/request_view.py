"""What the request pages read: a request's header, its diagram with the path taken, its plan as a
Gantt chart and a RACI matrix, its timeline and records, and the lists of requests.

Reading only. Who may see a request is decided by the caller (the web layer's permissions module)
before any of these is called; the functions here answer for any request they are asked about.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, literal, or_, select

from engine.context import Services
from engine.db.models import ProcessInstance, RequestSummary
from engine.db.models.requests import number_order, of_department, summary_conditions
from engine.db.tx import Tx
from engine.errors import InvalidInput, NotFound
from engine.messages import Msg
from engine.org.directory import ADMINS, AUDITORS, Directory, directory, local_date
from engine.page import Page
from engine.requests.attachments import AttachmentFile, attachment_content
from engine.requests.diagram import shapes_of, version_source
from engine.requests.record_access import may_read, note_read
from engine.requests.record_rows import select as select_rows
from engine.requests.records import list_records, red_warnings
from engine.requests.story import Story, story
from engine.workflow.elements import version_specs

STATUSES = ("running", "completed", "errored", "cancelled")
SCOPES = ("mine", "dept", "all")


@dataclass(frozen=True)
class Names:
    """Display names of the organisation's people and departments (the id itself when unknown)."""

    org: Directory

    def user(self, user_id: str | None) -> str:
        found = self.org.users.get(user_id or "")
        return found["name"] if found else (user_id or "—")

    def dept(self, dept_id: str | None) -> str:
        found = self.org.departments.get(dept_id or "")
        return found["name"] if found else (dept_id or "—")

    def depts(self, dept_ids, sep: str = "、") -> str:
        """Departments' names, joined as the reader's language lists them (`sep`)."""
        return sep.join(self.dept(d) for d in dept_ids) or "—"

    def value(self, value):
        """A form value as people read it: a user's or a department's name for its id."""
        if isinstance(value, str) and value in self.org.users:
            return self.user(value)
        if isinstance(value, str) and value in self.org.departments:
            return self.dept(value)
        return value


def _split(text: str | None) -> list[str]:
    return [d for d in (text or "").split(",") if d]


def _header(summary: RequestSummary, instance: ProcessInstance) -> dict:
    return {
        "instance_id": instance.id, "request_no": summary.request_no, "title": summary.title,
        "request_type": summary.request_type, "urgency": summary.urgency, "priority": summary.priority,
        "requester": summary.requester, "requester_dept": summary.requester_dept, "lead_dept": summary.lead_dept,
        "involved_depts": _split(summary.involved_depts), "expected_date": summary.expected_date,
        "submitted_at": summary.submitted_at, "status": instance.status, "process_id": instance.process_id,
        "version": instance.process_version, "initiator": instance.initiator,
        "completed_at": instance.completed_at, "error": json.loads(instance.error) if instance.error else None,
    }


def request_header(ctx: Services, instance_id: str) -> dict:
    """The request's summary row with its instance's status; NotFound if it is no request."""
    with ctx.db.read() as s:
        found = s.execute(select(RequestSummary, ProcessInstance)
                          .join(ProcessInstance, ProcessInstance.id == RequestSummary.instance_id)
                          .where(RequestSummary.instance_id == str(instance_id))).first()
        if found is None:
            raise NotFound("request.unknown", request=instance_id)
        return _header(*found)


def request_departments(ctx: Services, instance_id: str) -> set[str] | None:
    """The requester's, the lead and the involved departments of a request; None if it is no request."""
    with ctx.db.transaction(write=False) as tx:  # asked on every request that names a request or a task
        found = tx.one("SELECT requester_dept, lead_dept, involved_depts FROM request_summary WHERE instance_id = ?",
                       (str(instance_id),))
    if found is None:
        return None
    requester, lead, involved = found
    return {d for d in (requester, lead, *_split(involved)) if d}


def takes_part(ctx: Services, instance_id: str, user_id: str) -> bool:
    """Whether the user, or someone they substitute today, is one of the request's people, as
    engine.requests.record_access has them (its initiator, whoever holds or held one of its tasks or
    had one handed over, delegated or copied to them, plan task owners); platform admins and
    auditors read every request."""
    with ctx.db.transaction(write=False) as tx:
        return may_read(ctx, tx, str(instance_id), user_id)


def may_see_request(ctx: Services, instance_id: str, user_id: str) -> bool:
    """The one rule for reading a request (its page, files, export, the API): a member of its
    requester's, lead or involved departments, or one of its people (takes_part)."""
    departments = request_departments(ctx, str(instance_id))
    if departments is None:  # no such request
        return False
    if directory(ctx).department_of(user_id) in departments:
        return True
    return takes_part(ctx, instance_id, user_id)


# --- the request's page --------------------------------------------------------------------------

@dataclass
class RequestPage:
    """Everything the request's page shows."""

    header: dict
    timeline: list[dict]
    records: dict[str, list[dict]]
    plan: dict | None
    names: Names
    attachments: dict[int, dict] = field(default_factory=dict)  # by id
    task_titles: dict[str, str] = field(default_factory=dict)  # plan task key -> title, latest version winning
    story: Story | None = None  # the request as filed and the steps since
    open_tasks: list[dict] = field(default_factory=list)  # where it stands: its open tasks, oldest first
    labels: dict[str, dict[str, str]] = field(default_factory=dict)  # element ("" = start form) -> field -> label


def request_page(ctx: Services, instance_id: str, reader: str | None = None) -> RequestPage:
    """The request's header, its audit events (with element names), its records by kind and its
    current plan (Gantt rows and RACI matrix); an auditor's read (`reader`) is logged on its chain."""
    header = request_header(ctx, instance_id)
    with ctx.db.transaction(write=False) as tx:
        version_id = tx.one("SELECT process_version_id FROM process_instance WHERE id = ?", (header["instance_id"],))
        # Names of the diagram's shapes, and of the elements of the processes it calls (the
        # conflict subprocess), which are in the version's subprocess specs.
        spec, subs = ctx.store.specs.get(tx, version_id[0])
        shapes = {ts.bpmn_id: ts.bpmn_name for each in (spec, *subs.values()) for ts in each.task_specs.values()
                  if getattr(ts, "bpmn_id", None) and getattr(ts, "bpmn_name", None)}
        shapes.update(shapes_of(*version_source(tx, version_id[0])))
        events = tx.all("SELECT seq, event_type, actor, at, element_id, task_id, data FROM audit_event "
                        "WHERE instance_id = ? ORDER BY seq", (header["instance_id"],))
        specs = version_specs(ctx, tx, version_id[0])
        labels = specs.labels
        sees_all = reader is None or reader == header["initiator"] or bool(tx.one(
            f"SELECT 1 FROM group_membership WHERE user_id = ? AND group_name IN ({tx.in_list(_SEE_ALL)})",
            (reader, *_SEE_ALL)))
        waiting = [{"task_id": tid, "name": name, "element_id": element, "assignee": assignee,
                    "candidate_users": _split(users), "candidate_groups": _split(groups),
                    "since": Tx.when(created), "due_at": Tx.when(due), "delegated_by": delegated_by}
                   for tid, name, element, assignee, users, groups, created, due, delegated_by in tx.all(
                       "SELECT task_id, task_name, element_id, assignee, candidate_users, candidate_groups, "
                       "created_at, due_at, delegated_by FROM inbox_task WHERE instance_id = ? "
                       "ORDER BY created_at, task_id", (header["instance_id"],))]
    hidden = frozenset() if sees_all else _hidden_from(reader, specs, events, waiting)
    timeline = [{"seq": seq, "type": kind, "actor": actor, "at": Tx.when(at), "element_id": element,
                 "element_name": shapes.get(element or "", element), "task_id": task,
                 "data": _without(json.loads(data), hidden)}
                for seq, kind, actor, at, element, task, data in events]
    # The caller has decided that the reader may see the request; its records are read as its
    # initiator, who may always read them.
    records: dict[str, list[dict]] = {}
    in_order = list_records(ctx, header["instance_id"], header["initiator"])  # in the order they were made
    for record in in_order:
        records.setdefault(record["kind"], []).append(record)
    names = Names(directory(ctx))
    plan = _plan(ctx, header, records, names, plan_task_stages(in_order))
    titles = {t["task_key"]: t["title"] for p in sorted(records.get("plan", []), key=lambda p: p["version"])
              for t in p["tasks"]}
    note_read(ctx, header["instance_id"], reader, "request")
    return RequestPage(header, timeline, records, plan, names,
                       {a["id"]: a for a in records.get("attachment", [])}, titles,
                       story(ctx, header["instance_id"]).without(hidden), waiting, labels)


_SEE_ALL = (ADMINS, AUDITORS)  # with the requester, they see every field whatever a step hides


def _hidden_from(reader: str, specs, events, waiting) -> frozenset[str]:
    """What the request's page keeps from `reader`: every field a step hides that they worked on, or
    have waiting, so the page does not show what the step's own page leaves out."""
    worked = {element for _seq, kind, actor, _at, element, _task, _data in events
              if kind == "task_completed" and actor == reader}
    worked |= {w["element_id"] for w in waiting if w["assignee"] == reader or reader in w["candidate_users"]}
    return frozenset().union(*(specs.forms[e].hidden for e in worked if e in specs.forms))


def _without(data: dict, hidden: frozenset[str]) -> dict:
    if hidden and isinstance(data.get("data"), dict):
        return {**data, "data": {k: v for k, v in data["data"].items() if k not in hidden}}
    return data


# Where a plan task stands, beyond the owner's own progress status (未开始, 进行中, 待支持, 已完成):
SUBMITTED, RETURNED, ACCEPTED = "待验收", "退回修改", "已验收"


def plan_task_stages(in_order: list[dict]) -> dict[str, str]:
    """Each plan task's stage from its records in the order they were made: the latest of its
    progress status, its deliverable waiting for acceptance (待验收), the acceptance's verdict
    (退回修改 until a new deliverable, 已验收)."""
    stage: dict[str, str] = {}
    for record in in_order:
        key = record.get("plan_task_key")
        if not key:
            continue
        if record["kind"] == "progress_update" and stage.get(key) not in (SUBMITTED, ACCEPTED):
            stage[key] = record["status"]
        elif record["kind"] == "deliverable":
            stage[key] = SUBMITTED
        elif record["kind"] == "acceptance":
            stage[key] = ACCEPTED if record["decision"] == "验收通过" else RETURNED
    return stage


def _plan(ctx: Services, header: dict, records: dict[str, list[dict]], names: Names,
          stages: dict[str, str]) -> dict | None:
    """The latest plan version: its tasks with their stage (plan_task_stages) and red warnings,
    laid out on days (Gantt), and its RACI matrix."""
    plans = records.get("plan")
    if not plans:
        return None
    plan = max(plans, key=lambda p: p["version"])
    red = {w["task_key"]: w["reasons"] for w in red_warnings(ctx, header["instance_id"])}
    tasks = [{**t, "start": date.fromisoformat(t["planned_start"]), "end": date.fromisoformat(t["planned_end"]),
              "status": stages.get(t["task_key"], "未开始"),
              "red": red.get(t["task_key"], [])} for t in plan["tasks"]]
    first = min(t["start"] for t in tasks)
    last = max(t["end"] for t in tasks)
    days = (last - first).days + 1
    for t in tasks:
        t["offset"], t["days"] = (t["start"] - first).days, (t["end"] - t["start"]).days + 1
    today = local_date(ctx)
    lead = plan.get("lead_department") or header["lead_dept"]
    return {"id": plan["id"], "version": plan["version"], "lead_department": lead, "risk_plan": plan["risk_plan"],
            "author": plan["author"], "created_at": plan["created_at"], "tasks": tasks, "first": first,
            "last": last, "days": days, "today": (today - first).days if first <= today <= last else None,
            "ticks": [(n, first + timedelta(days=n)) for n in range(0, days, 7)],
            "raci": raci(header, lead, tasks, records.get("feedback", []), names)}


def raci(header: dict, lead: str | None, tasks: list[dict], feedback: list[dict], names: Names) -> dict:
    """The plan's RACI matrix, departments by tasks. For each task:
    R (responsible): the department of the task's owner (the task's department if the owner has none);
    A (accountable): the lead department;
    C (consulted): the involved departments that gave feedback on the request;
    I (informed): the requester's department.
    A department may hold several letters in one cell (e.g. the requester's department leading it)."""
    involved = set(header["involved_depts"])
    consulted = {f["department_id"] for f in feedback if f.get("department_id") in involved}
    owners = [names.org.department_of(t["owner"]) or t["department_id"] for t in tasks]
    order = [header["requester_dept"], lead, *header["involved_depts"], *owners]
    depts = list(dict.fromkeys(d for d in order if d))
    rows = []
    for dept in depts:
        cells = []
        for owner_dept in owners:
            letters = [letter for letter, holds in (("R", dept == owner_dept), ("A", dept == lead),
                                                    ("C", dept in consulted), ("I", dept == header["requester_dept"]))
                       if holds]
            cells.append("/".join(letters))
        rows.append({"department_id": dept, "cells": cells})
    return {"tasks": [t["title"] for t in tasks], "rows": rows}


# --- lists ---------------------------------------------------------------------------------------

@dataclass
class RequestFilter:
    """What a list of requests is narrowed to; `scope`: mine (filed by the user), dept (the user's
    department files, leads or is involved in), all (every request)."""

    scope: str = "mine"
    text: str = ""
    status: str | None = None
    request_type: str | None = None
    urgency: str | None = None
    department: str | None = None


def list_requests(ctx: Services, user_id: str, department_id: str | None, f: RequestFilter,
                  page: int = 1, per_page: int = 20) -> Page:
    """Requests in `f`'s scope for the user, newest first, one page; each with its status."""
    if f.scope not in SCOPES:
        raise InvalidInput("choice.unknown", what=Msg("what.scope"), given=f.scope, known=list(SCOPES))
    if f.status and f.status not in STATUSES:
        raise InvalidInput("choice.unknown", what=Msg("what.status"), given=f.status, known=list(STATUSES))
    if page < 1 or not 1 <= per_page <= 200:
        raise InvalidInput("paging.invalid", most=200)
    q = select(RequestSummary, ProcessInstance).join(ProcessInstance, ProcessInstance.id == RequestSummary.instance_id)
    if f.scope == "mine":
        q = q.where(RequestSummary.requester == user_id)
    elif f.scope == "dept":
        q = q.where(of_department(department_id)) if department_id else q.where(literal(False))
    text = (f.text or "").strip()
    if text:
        q = q.where(or_(RequestSummary.request_no.icontains(text, autoescape=True),
                        RequestSummary.title.icontains(text, autoescape=True)))
    if f.status:
        q = q.where(ProcessInstance.status == f.status)
    for condition in summary_conditions(f.request_type, f.urgency, f.department):
        q = q.where(condition)
    with ctx.db.read() as s:
        total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
        newest = (RequestSummary.submitted_at.desc(), *number_order(RequestSummary.request_no, descending=True))
        rows = s.execute(q.order_by(*newest).limit(per_page).offset((page - 1) * per_page)).all()
        return Page([_header(summary, instance) for summary, instance in rows], total, page, per_page)


def attachment_file(ctx: Services, instance_id: str, attachment_id: int, reader: str | None = None) -> AttachmentFile:
    """An attachment of the request with its bytes; NotFound if it belongs to another request.
    The caller has decided that the reader may see the request (read as its initiator)."""
    with ctx.db.transaction(write=False) as tx:
        found = select_rows(tx, "attachment", "id = ? AND instance_id = ?", (attachment_id, str(instance_id)))
        if not found:
            raise NotFound("attachment.other_request", id=attachment_id, request=instance_id)
        (initiator,) = tx.one("SELECT initiator FROM process_instance WHERE id = ?", (str(instance_id),))
    found = attachment_content(ctx, attachment_id, initiator)
    note_read(ctx, str(instance_id), reader, "attachment")
    return found
