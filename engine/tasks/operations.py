"""Operations on a task besides completing it, as Chinese OA users expect them: transfer (转办),
delegate (委派) and hand back, copy (抄送), urge (催办; the requester and the platform admins, once
an hour each), withdraw a request (撤回; its requester, while nobody else has acted). The reads of
the "done by me" list and of one task's history are in engine.tasks.reads.

Each is one transaction on the command path: it locks the instance's row, changes the task's inbox
row (withdrawing cancels the instance like cancel_instance), appends an audit event (actor, time,
element, task; its data holds the task's holder, or the instance's status, before and after) and
writes a notification to everyone concerned. Someone acts on a task as `acting_for` decides: its
assignee, a candidate while it is unclaimed, or the substitute (代理人) of either today.

Elsewhere: claim and release in engine.workflow.instances; comments and files in
engine.requests.records and engine.requests.attachments. Return to an earlier step (退回) is a
decision on the task's form (退回补充, 退回修改, ...) that the diagram routes back with its reason:
the engine adds nothing for it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, select

from engine.context import Services
from engine.db import chain as audit
from engine.db.models import ProcessInstance, TaskCc
from engine.db.tx import Tx
from engine.errors import InvalidInput, NotFound, PermissionDenied
from engine.messages import Msg
from engine.org.directory import ADMINS, AUDITORS, directory, local_date
from engine.page import Page
from engine.workflow.access import InboxRow, acting_for, inbox_row, refuse_auditor, refuse_delegated
from engine.workflow.instances import cancel_workflow
from engine.workflow.notices import write_notices
from engine.workflow.runner import CommandResult, lock_instance, run_command, took
from engine.workflow.store import InstanceRow

URGE_INTERVAL = timedelta(hours=1)  # one urge per task, per user, per hour
TEXT_LIMIT = 2000
CC_LIMIT = 50
# Events that do not count as acting on a request when someone other than its initiator causes them
# (an auditor's reading is logged on the request's chain, engine.requests.record_access.VIEWED).
NOT_ACTING = ("task_urged", "request_viewed")

_INBOX_UPDATE = "UPDATE inbox_task SET assignee = ?, delegated_by = ? WHERE task_id = ?"
_CC_INSERT = ("INSERT INTO task_cc (instance_id, task_id, element_id, task_name, from_user, to_user, note, "
              "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")

Note = tuple[str, str, Msg]  # recipient, kind, message
Change = Callable[[Tx, InstanceRow, InboxRow], tuple[str, dict, list[Note]]]


# ---------------------------------------------------------------------------------- helpers
def _text(value, what: Msg, required: bool = True) -> str:
    if value is not None and not isinstance(value, str):
        raise InvalidInput("text.not_text", what=what)
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput("text.required", what=what)
    if len(text) > TEXT_LIMIT:
        raise InvalidInput("text.too_long", what=what, n=len(text), most=TEXT_LIMIT)
    return text


def _active_user(tx: Tx, user: str) -> None:
    found = tx.one("SELECT active FROM app_user WHERE id = ?", (user,))
    if found is None:
        raise InvalidInput("user.unknown", user=user)
    if not found[0]:
        raise InvalidInput("user.inactive", user=user)


def _acting(ctx: Services, tx: Tx, inbox: InboxRow, user: str) -> str:
    """Whom `user` acts for on the task; PermissionDenied if nobody."""
    principal = acting_for(ctx, tx, inbox, user)
    if principal is None:
        raise PermissionDenied("task.not_yours", user=user, task=inbox.task_id)
    return principal


def _name(ctx: Services, user: str | None) -> str:
    return (directory(ctx).users.get(user or "") or {}).get("name") or str(user)


def _label(row: InstanceRow, inbox: InboxRow) -> Msg:
    """The task a notice names, with its request's number."""
    if row.business_key:
        return Msg("notice.task_of_request", task=inbox.task_name, request=row.business_key)
    return Msg("notice.task", task=inbox.task_name)


def _holder(inbox: InboxRow) -> dict:
    return {"assignee": inbox.assignee, "delegated_by": inbox.delegated_by}


def _notify(tx: Tx, instance_id: str, task_id: str | None, notes: list[Note], now: datetime) -> None:
    sent = set()
    write_notices(tx, instance_id, [{"recipient": r, "kind": k, "message": m, "task_id": task_id}
                                    for r, k, m in notes if r and not (r in sent or sent.add(r))], now)


def _task_command(ctx: Services, task_id: str, user: str, change: Change) -> CommandResult:
    """Lock the task's instance, apply `change` to its inbox row, and write the row, the audit
    event (with the holder before and after) and the notifications, in one transaction."""
    def command(tx: Tx):
        refuse_auditor(tx, user)
        row = lock_instance(ctx, tx, inbox_row(tx, task_id).instance_id)
        inbox = inbox_row(tx, task_id)  # read again under the lock: nobody changes it now
        cached = ctx.store.cache.take(row.id, row.lock_version)
        took(row, cached)
        before = _holder(inbox)
        event, data, notes = change(tx, row, inbox)
        after = _holder(inbox)
        if after != before:
            tx.queue(_INBOX_UPDATE, (inbox.assignee, inbox.delegated_by, task_id))
        now = ctx.now()
        audit.record(tx, row, event, user, now, inbox.element_id, task_id, {**data, "before": before, "after": after})
        _notify(tx, row.id, task_id, notes, now)
        row.updated_at = now
        return row, cached, CommandResult(row.id, row.status)

    return run_command(ctx, command)


def _hand_over(tx: Tx, inbox: InboxRow, user: str, principal: str, to_user: str) -> None:
    """Checks shared by transfer and delegation: an active user, not an auditor, other than the
    task's holders."""
    _active_user(tx, to_user)
    if tx.one("SELECT 1 FROM group_membership WHERE user_id = ? AND group_name = ?", (to_user, AUDITORS)):
        raise InvalidInput("task.hand_to_auditor", user=to_user)
    if to_user in (user, principal, inbox.assignee):
        raise InvalidInput("task.hand_to_holder", user=to_user)


def _behalf(data: dict, user: str, principal: str) -> dict:
    return {**data, "on_behalf_of": principal} if principal != user else data


# ---------------------------------------------------------------------------------- 转办 / 委派
def transfer_task(ctx: Services, task_id: str, user: str, to_user: str, reason: str) -> CommandResult:
    """转办: the task becomes `to_user`'s (its assignee) and leaves the inbox of whoever held it."""
    reason = _text(reason, Msg("what.transfer_reason"))

    def change(tx: Tx, row: InstanceRow, inbox: InboxRow):
        refuse_delegated(inbox)
        principal = _acting(ctx, tx, inbox, user)
        _hand_over(tx, inbox, user, principal, to_user)
        inbox.assignee = to_user
        label = _label(row, inbox)
        notes = [(to_user, "info", Msg("notice.transferred", user=_name(ctx, user), what=label, reason=reason))]
        if principal != user:  # the absent holder learns what their substitute did
            notes.append((principal, "info", Msg("notice.transferred_by_substitute", user=_name(ctx, user),
                                                 what=label, to=_name(ctx, to_user), reason=reason)))
        return "task_transferred", _behalf({"from": principal, "to": to_user, "reason": reason}, user,
                                           principal), notes

    return _task_command(ctx, task_id, user, change)


def delegate_task(ctx: Services, task_id: str, user: str, to_user: str, reason: str) -> CommandResult:
    """委派: the assignee has `to_user` do the work; it comes back through resolve_delegation, and
    only then can the task be completed (by the delegator)."""
    reason = _text(reason, Msg("what.delegation_reason"))

    def change(tx: Tx, row: InstanceRow, inbox: InboxRow):
        refuse_delegated(inbox)
        principal = _acting(ctx, tx, inbox, user)
        if not inbox.assignee:
            raise InvalidInput("task.delegate_group")
        _hand_over(tx, inbox, user, principal, to_user)
        inbox.assignee, inbox.delegated_by = to_user, principal
        notes = [(to_user, "info", Msg("notice.delegated", user=_name(ctx, user), what=_label(row, inbox),
                                       reason=reason))]
        return "task_delegated", _behalf({"from": principal, "to": to_user, "reason": reason}, user,
                                         principal), notes

    return _task_command(ctx, task_id, user, change)


def resolve_delegation(ctx: Services, task_id: str, user: str, comment: str = "") -> CommandResult:
    """The delegate hands a delegated task back to its delegator, who then completes it."""
    comment = _text(comment, Msg("what.comment"), required=False)

    def change(tx: Tx, row: InstanceRow, inbox: InboxRow):
        if not inbox.delegated_by:
            raise InvalidInput("task.not_delegated")
        principal = acting_for(ctx, tx, inbox, user)
        if principal is None:
            raise PermissionDenied("task.only_delegate", user=inbox.assignee)
        delegator = inbox.delegated_by
        inbox.assignee, inbox.delegated_by = delegator, None
        message = Msg("notice.delegation_resolved_comment" if comment else "notice.delegation_resolved",
                      user=_name(ctx, user), what=_label(row, inbox), comment=comment)
        return "delegation_resolved", _behalf({"from": principal, "to": delegator, "comment": comment}, user,
                                              principal), [(delegator, "info", message)]

    return _task_command(ctx, task_id, user, change)


# ---------------------------------------------------------------------------------- 抄送
def cc_task(ctx: Services, task_id: str, user: str, to_users: list[str] | str, note: str = "") -> CommandResult:
    """抄送: copy an open task to people for their information (who may act on it, or the requester)."""
    people = [to_users] if isinstance(to_users, str) else list(to_users or [])
    people = list(dict.fromkeys(str(p).strip() for p in people if p and str(p).strip()))
    if not people:
        raise InvalidInput("cc.nobody")
    if len(people) > CC_LIMIT:
        raise InvalidInput("cc.too_many", most=CC_LIMIT)
    note = _text(note, Msg("what.cc_note"), required=False)

    def change(tx: Tx, row: InstanceRow, inbox: InboxRow):
        if user != row.initiator:
            _acting(ctx, tx, inbox, user)
        if user in people:
            raise InvalidInput("cc.self")
        now = tx.stamp(ctx.now())
        for person in people:
            _active_user(tx, person)
            tx.queue(_CC_INSERT, (row.id, task_id, inbox.element_id, inbox.task_name, user, person, note, now))
        message = Msg("notice.copied_note" if note else "notice.copied", user=_name(ctx, user),
                      what=_label(row, inbox), note=note)
        return "task_copied", {"to": people, "note": note}, [(p, "info", message) for p in people]

    return _task_command(ctx, task_id, user, change)


def _cc_row(cc: TaskCc, business_key: str | None) -> dict:
    return {"id": cc.id, "instance_id": cc.instance_id, "business_key": business_key, "task_id": cc.task_id,
            "element_id": cc.element_id, "task_name": cc.task_name, "from_user": cc.from_user,
            "to_user": cc.to_user, "note": cc.note, "created_at": cc.created_at.isoformat(),
            "read_at": cc.read_at.isoformat() if cc.read_at else None}


def check_page(page: int, per_page: int) -> None:
    """InvalidInput unless the page number and its size are ones a list serves."""
    if page < 1 or not 1 <= per_page <= 500:
        raise InvalidInput("paging.invalid", most=500)


def cc_list(ctx: Services, user: str, page: int = 1, per_page: int = 50, unread_only: bool = False) -> Page:
    """The tasks copied to `user`, newest first (through ix_task_cc_to)."""
    check_page(page, per_page)
    q = select(TaskCc, ProcessInstance.business_key).join(ProcessInstance, ProcessInstance.id == TaskCc.instance_id)
    q = q.where(TaskCc.to_user == user)
    if unread_only:
        q = q.where(TaskCc.read_at.is_(None))
    with ctx.db.read() as s:
        total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = s.execute(q.order_by(TaskCc.created_at.desc(), TaskCc.id.desc())
                         .limit(per_page).offset((page - 1) * per_page)).all()
        return Page([_cc_row(cc, key) for cc, key in rows], total, page, per_page)


def mark_cc_read(ctx: Services, cc_id: int, user: str) -> dict:
    """Mark a copy read by its recipient (the first time counts); the copy as cc_list shows it."""
    with ctx.db.write() as s:
        cc = s.get(TaskCc, cc_id)
        if cc is None:
            raise NotFound("cc.unknown", id=cc_id)
        if cc.to_user != user:
            raise PermissionDenied("cc.not_yours", id=cc_id)
        if cc.read_at is None:
            cc.read_at = ctx.now()
        key = s.scalar(select(ProcessInstance.business_key).where(ProcessInstance.id == cc.instance_id))
        return _cc_row(cc, key)


# ---------------------------------------------------------------------------------- 催办
def _waiting(ctx: Services, assignee: str | None, candidate_users: str, candidate_groups: str) -> list[str]:
    """Who has to act on a task: its assignee, else its candidate users and the members of its
    candidate groups; with whoever substitutes one of them today."""
    org = directory(ctx)
    people = [assignee] if assignee else [u for u in candidate_users.split(",") if u]
    if not assignee:
        people += [m for g in candidate_groups.split(",") if g for m in org.members(g)]
    today = local_date(ctx)
    people += [s for s in (org.substitute_of(p, today) for p in people) if s]
    return list(dict.fromkeys(people))


def urge_task(ctx: Services, task_id: str, user: str, message: str = "") -> CommandResult:
    """催办: remind whoever has to act on an open task (kind 'urge').

    The request's initiator and the platform admins may urge, each at most once per task per hour.
    """
    message = _text(message, Msg("what.urge_message"), required=False)

    def change(tx: Tx, row: InstanceRow, inbox: InboxRow):
        admin = tx.one("SELECT 1 FROM group_membership WHERE user_id = ? AND group_name = ?", (user, ADMINS))
        if user != row.initiator and admin is None:
            raise PermissionDenied("urge.not_requester", user=row.initiator)
        now = ctx.now()
        (last,) = tx.one("SELECT max(at) FROM audit_event WHERE instance_id = ? AND task_id = ? "
                         "AND event_type = 'task_urged' AND actor = ?", (row.id, task_id, user))
        last = Tx.when(last)
        if last is not None and now < last + URGE_INTERVAL:
            raise InvalidInput("urge.too_soon", at=last.isoformat(), again=(last + URGE_INTERVAL).isoformat())
        people = [p for p in _waiting(ctx, inbox.assignee, inbox.candidate_users, inbox.candidate_groups)
                  if p != user]
        if not people:
            raise InvalidInput("urge.nobody_else")
        text = Msg("notice.urged_message" if message else "notice.urged", user=_name(ctx, user),
                   what=_label(row, inbox), message=message)
        return "task_urged", {"to": people, "message": message}, [(p, "urge", text) for p in people]

    return _task_command(ctx, task_id, user, change)


# ---------------------------------------------------------------------------------- 撤回
def _someone_acted(tx: Tx, row: InstanceRow) -> tuple | None:
    """The first event caused by anyone but the initiator (and the engine), urges aside."""
    skip = ("system", row.initiator, *NOT_ACTING)
    return tx.one("SELECT event_type, actor, at FROM audit_event WHERE instance_id = ? AND actor NOT IN (?, ?) "
                  f"AND event_type NOT IN ({tx.in_list(NOT_ACTING)}) ORDER BY seq LIMIT 1", (row.id, *skip))


def withdraw_request(ctx: Services, instance_id: str, user: str, reason: str) -> CommandResult:
    """撤回: the initiator cancels the request, but only while nobody else has acted on it (signed,
    claimed, transferred, commented, ...); an urge by an admin does not count."""
    reason = _text(reason, Msg("what.withdraw_reason"))

    def command(tx: Tx):
        refuse_auditor(tx, user)
        row = lock_instance(ctx, tx, instance_id)
        if user != row.initiator:
            raise PermissionDenied("withdraw.not_requester", user=row.initiator, request=row.business_key or row.id)
        if row.status in ("completed", "cancelled"):
            raise InvalidInput("request.ended", request=row.business_key or row.id, status=Msg("status." + row.status))
        acted = _someone_acted(tx, row)
        if acted is not None:
            event, actor, at = acted
            raise InvalidInput("withdraw.acted", request=row.business_key or row.id, user=actor, event=event,
                               at=Tx.when(at).isoformat())
        waiting = [p for args in tx.all("SELECT assignee, candidate_users, candidate_groups FROM inbox_task "
                                        "WHERE instance_id = ?", (row.id,)) for p in _waiting(ctx, *args)]
        status = row.status
        wf, result = cancel_workflow(ctx, tx, row, user)
        now = ctx.now()
        audit.record(tx, row, "request_withdrawn", user, now, None, None,
                     {"reason": reason, "before": {"status": status}, "after": {"status": "cancelled"}})
        text = Msg("notice.withdrawn", request=row.business_key or row.id, user=_name(ctx, user), reason=reason)
        _notify(tx, row.id, None, [(p, "info", text) for p in waiting if p != user], now)
        return row, wf, result

    return run_command(ctx, command)


