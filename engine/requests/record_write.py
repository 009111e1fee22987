"""Writing one record of a request, checked input in, row(s) out; the caller appends the audit event.

Rules that hold whichever way a record arrives (a record service or a task form) live here: a
meeting is announced at least 24 hours ahead, a reported risk is explained, a returned
deliverable names its problem, a plan is a new version with stable task keys, a request is rated
once. Each writer returns the new record's id and the data of its audit event.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from engine.db.tx import Tx
from engine.errors import FormInvalid, InvalidInput
from engine.knowledge import lessons as knowledge
from engine.knowledge import words as knowledge_words
from engine.messages import Msg
from engine.requests.record_rows import KINDS, Kind, Origin, insert, insert_many, record_values, select
from engine.workflow.notices import write_notices

NOTICE = timedelta(hours=24)  # a meeting is announced at least this long before it starts
SCORES = range(1, 6)
_KEY = re.compile(r"T(\d+)")
REQUEST_NO_MAX = 32  # knowledge_entry.request_no


def write(tx: Tx, head, kind: Kind, values: dict, origin: Origin, label: Callable[[str], str] = str,
          plan_task_key: str | None = None) -> tuple[int, dict]:
    """Write a checked record of `kind` for the instance `head`; (record id, audit event data)."""
    extra: dict = {}
    if kind.name == "plan":
        return _plan(tx, head, values, origin, label)
    if kind.name == "action_items":
        return _actions(tx, head, values, origin)
    if kind.name == "lesson":
        return _lesson(tx, head, values, origin, label)
    if kind.name == "meeting" and values["starts_at"] - origin.at < NOTICE:
        raise FormInvalid({label("starts_at"): Msg("meeting.notice", earliest=(origin.at + NOTICE).isoformat())})
    if kind.name == "progress_update" and values["risk"] and not values["risk_note"]:
        raise FormInvalid({label("risk_note"): Msg("progress.risk_note")})
    if kind.name == "acceptance" and values["decision"] == "退回修改" and not values["problem"]:
        raise FormInvalid({label("problem"): Msg("feedback.problem")})
    if kind.name == "minutes":
        values = {**values, "meeting_id": _meeting(tx, head.id, values["meeting_id"], label("meeting_id"))}
        extra["meeting_id"] = values["meeting_id"]
    if kind.name == "satisfaction":
        _rate_once(tx, head, values["score"], label("score"))
        extra["score"] = values["score"]
    if kind.name in ("feedback", "conflict_position") and not values["department_id"]:
        values = {**values, "department_id": department_of(tx, origin.author)}
    if kind.name in ("progress_update", "deliverable", "acceptance"):
        # Any version's key: a task that was running when the plan was revised still reports on it.
        if plan_task_key is not None and plan_task_key not in plan_keys(tx, head.id):
            raise FormInvalid({label("plan_task_key"): Msg("plan.task_unknown", key=plan_task_key)})
        values = {**values, "plan_task_key": plan_task_key}
        extra["plan_task_key"] = plan_task_key
    rid = insert(tx, kind.table, record_values(head, origin, values))
    if kind.name == "progress_update" and (values["risk"] or values["status"] == "待支持"):
        _red_warning(tx, head, values, origin)
    return rid, {"record": kind.name, "id": rid, **extra}




def _red_warning(tx: Tx, head, values: dict, origin: Origin) -> None:
    """A progress update that reports a delay risk or asks for support raises a red warning: the
    lead department's head is told at once, to step in (the request page shows it as long as it
    holds, see records.red_warnings)."""
    lead = tx.one("SELECT p.user_id FROM request_summary r JOIN department_post p ON p.department_id = r.lead_dept "
                  "AND p.post = 'head' AND p.valid_to IS NULL WHERE r.instance_id = ?", (head.id,))
    if lead is None or lead[0] == origin.author:
        return
    task = None
    if values.get("plan_task_key"):
        task = tx.one("SELECT t.title FROM plan_task t JOIN coordination_plan p ON p.id = t.plan_id "
                      "WHERE p.instance_id = ? AND t.task_key = ? ORDER BY p.version DESC LIMIT 1",
                      (head.id, values["plan_task_key"]))
    what = Msg("notice.plan_task", task=task[0]) if task else Msg("notice.progress")
    why = (Msg("notice.risk", note=values["risk_note"]) if values["risk"]
           else Msg("notice.support", note=values["problems"] or values["work_done"]))
    message = (Msg("notice.red_warning", request=head.business_key, what=what, why=why) if head.business_key
               else Msg("notice.red_warning_plain", what=what, why=why))
    write_notices(tx, head.id, [{"recipient": lead[0], "kind": "red_warning", "message": message,
                                 "task_id": origin.task_id}], origin.at)


def department_of(tx: Tx, user: str) -> str | None:
    """The user's department (None for an unknown user or one without)."""
    found = tx.one("SELECT department_id FROM app_user WHERE id = ?", (user,))
    return found[0] if found else None


def latest_plan(tx: Tx, instance_id: str) -> tuple[dict | None, list[dict]]:
    """The current plan version of an instance (None if it has none) and its tasks in order."""
    plans = select(tx, "coordination_plan", "instance_id = ? AND version = (SELECT max(version) FROM "
                   "coordination_plan WHERE instance_id = ?)", (instance_id, instance_id))
    if not plans:
        return None, []
    return plans[0], select(tx, "plan_task", "plan_id = ?", (plans[0]["id"],), order="position")


def plan_keys(tx: Tx, instance_id: str) -> set[str]:
    """Every task key any version of the request's plan has used."""
    return {k for (k,) in tx.all("SELECT DISTINCT t.task_key FROM plan_task t JOIN coordination_plan p "
                                 "ON p.id = t.plan_id WHERE p.instance_id = ?", (instance_id,))}


def _meeting(tx: Tx, instance_id: str, meeting_id: int | None, where: str) -> int | None:
    """The meeting minutes belong to: the one named (of this request), else its latest, if any."""
    if meeting_id is None:
        found = tx.one("SELECT max(id) FROM meeting WHERE instance_id = ?", (instance_id,))
        return found[0] if found else None
    if tx.one("SELECT id FROM meeting WHERE id = ? AND instance_id = ?", (meeting_id, instance_id)) is None:
        raise FormInvalid({where: Msg("meeting.other_request", id=meeting_id)})
    return meeting_id


def _rate_once(tx: Tx, head, score: int, where: str) -> None:
    if score not in SCORES:
        raise FormInvalid({where: Msg("satisfaction.score", given=score)})
    if tx.one("SELECT id FROM satisfaction WHERE instance_id = ?", (head.id,)) is not None:
        raise InvalidInput("satisfaction.once", request=head.business_key or head.id)


def _plan(tx: Tx, head, values: dict, origin: Origin, label: Callable[[str], str]) -> tuple[int, dict]:
    """A new plan version; its tasks keep their keys (see _assign_keys)."""
    tasks = values["tasks"]
    for n, task in enumerate(tasks, start=1):
        if task["planned_end"] < task["planned_start"]:
            raise FormInvalid({label("tasks"): Msg("plan.ends_before_start", row=n)})
    _assign_keys(tx, head.id, tasks, label("tasks"))
    (last,) = tx.one("SELECT max(version) FROM coordination_plan WHERE instance_id = ?", (head.id,))
    version = (last or 0) + 1
    lead = values["lead_department"] or department_of(tx, origin.author)
    plan_id = insert(tx, "coordination_plan", record_values(head, origin, {
        "version": version, "lead_department": lead, "risk_plan": values["risk_plan"]}))
    insert_many(tx, "plan_task", [{"plan_id": plan_id, "position": n, **task} for n, task in enumerate(tasks, 1)])
    return plan_id, {"record": "plan", "id": plan_id, "version": version, "tasks": [t["task_key"] for t in tasks]}


def _assign_keys(tx: Tx, instance_id: str, tasks: list[dict], where: str) -> None:
    """Give every task of a new plan version its key, in place.

    A row that names a key keeps it (it must be a key of an earlier version of this request's
    plan, once per version). A row without one takes the key of the current version's task with
    the same title and department, if that key is still free; else a new key T<n>, never used
    before on this request. Progress is reported per key, so a task keeps its history across versions.
    """
    ever = plan_keys(tx, instance_id)
    taken: set[str] = set()
    for n, task in enumerate(tasks, start=1):
        key = task["task_key"]
        if key and key not in ever:
            raise FormInvalid({where: Msg("actions.task_unknown", row=n, key=key)})
        if key in taken:
            raise FormInvalid({where: Msg("actions.task_twice", row=n, key=key)})
        if key:
            taken.add(key)
    current = {(t["title"], t["department_id"]): t["task_key"] for t in reversed(latest_plan(tx, instance_id)[1])}
    numbers = [int(m.group(1)) for m in map(_KEY.fullmatch, ever) if m]
    next_number = max(numbers, default=0) + 1
    for task in tasks:
        if task["task_key"]:
            continue
        key = current.get((task["title"], task["department_id"]))
        if key is None or key in taken:
            key, next_number = f"T{next_number}", next_number + 1
        task["task_key"] = key
        taken.add(key)


def _actions(tx: Tx, head, values: dict, origin: Origin) -> tuple[int, dict]:
    table_id = insert(tx, "action_table", record_values(head, origin, {"decision": values["decision"]}))
    insert_many(tx, "action_item", [{"table_id": table_id, "position": n, **item}
                                    for n, item in enumerate(values["items"], start=1)])
    return table_id, {"record": "action_items", "id": table_id, "items": len(values["items"])}


def _lesson(tx: Tx, head, values: dict, origin: Origin, label: Callable[[str], str]) -> tuple[int, dict]:
    """A proposed knowledge-base entry, in this transaction (propose_lesson would open its own)."""
    try:
        tags = knowledge._tags(values["tags"])
    except InvalidInput as exc:
        raise FormInvalid({label("tags"): exc.msg}) from None
    words = [w for text in (values["title"], values["body"], " ".join(tags)) for w in knowledge_words.segment(text)]
    number = head.business_key if head.business_key and len(head.business_key) <= REQUEST_NO_MAX else None
    entry_id = insert(tx, "knowledge_entry", {
        "request_no": number, "instance_id": head.id, "title": values["title"], "body": values["body"],
        "tags": ",".join(tags), "status": "proposed", "proposed_by": origin.author, "proposed_at": origin.at,
        "search_text": " ".join(words)})
    knowledge.place(tx, "e.id = ?", (entry_id,))
    return entry_id, {"record": "lesson", "id": entry_id}


def kind(name: str) -> Kind:
    """The kind called `name`; InvalidInput for an unknown one."""
    found = KINDS.get(name)
    if found is None:
        raise InvalidInput("choice.unknown", what=Msg("what.record_kind"), given=name, known=list(KINDS))
    return found
