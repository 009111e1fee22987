"""Who may read and write the records of a request: the rule, defined once.

The people of a request are its initiator; everyone who holds or held one of its tasks (the
assignee, a candidate user, whoever claimed or completed it and whom they acted for) and every
member of a candidate group of one of its tasks, found in its open tasks and its audit chain; and
the owners of its plan tasks. They may write records, and so may anyone who substitutes one of
them today, and the platform admins. Auditors read everything and write nothing, even on a
request of their own. A progress update on a plan task is for that task's owner or the head of
the plan's lead department (or the substitute of either today) only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from engine.context import Services
from engine.db import chain
from engine.db.tx import Tx
from engine.errors import NotFound, PermissionDenied
from engine.org.directory import ADMINS, GLOBAL_ROLES, directory
from engine.workflow.access import identities

AUDITORS = GLOBAL_ROLES["auditor"]
# Events that put a person on a task; their data names assignees and candidates, their actor acted on it.
_TASK_EVENTS = ("task_ready", "task_claimed", "task_completed", "task_transferred", "task_delegated")
_COPY_EVENTS = ("task_copied",)  # who a task was copied to may read the request, not write to it


@dataclass
class People:
    """The people of a request, and the groups its tasks were offered to."""

    users: set[str] = field(default_factory=set)
    groups: set[str] = field(default_factory=set)


def participants(tx: Tx, instance_id: str) -> People:
    """The people of a request (see the module's docstring)."""
    found = tx.one("SELECT initiator FROM process_instance WHERE id = ?", (instance_id,))
    if found is None:
        raise NotFound("request.unknown", request=instance_id)
    people = People({found[0]})
    marks = tx.in_list(_TASK_EVENTS)
    # Through the (instance_id, seq) index of audit_event, like every read of a chain.
    for event_type, actor, data in tx.all(f"SELECT event_type, actor, data FROM audit_event WHERE instance_id = ? "
                                          f"AND event_type IN ({marks})", (instance_id, *_TASK_EVENTS)):
        values = json.loads(data)
        if event_type != "task_ready":
            people.users.add(actor)
        people.users.update(u for u in (values.get("assignee"), values.get("on_behalf_of"), values.get("to")) if u)
        people.users.update(values.get("candidate_users") or ())
        people.groups.update(values.get("candidate_groups") or ())
    people.users.update(owner for (owner,) in tx.all(
        "SELECT DISTINCT t.owner FROM plan_task t JOIN coordination_plan p ON p.id = t.plan_id "
        "WHERE p.instance_id = ?", (instance_id,)))
    return people


def groups_of(tx: Tx, user: str) -> set[str]:
    """The groups `user` is a member of, as the database has them now."""
    return {g for (g,) in tx.all("SELECT group_name FROM group_membership WHERE user_id = ?", (user,))}


def may_write(ctx: Services, tx: Tx, instance_id: str, user: str) -> bool:
    """Whether `user` may add records to the request (see the module's docstring)."""
    groups = groups_of(tx, user)
    if AUDITORS in groups:
        return False
    if ADMINS in groups:
        return True
    people = participants(tx, instance_id)
    for who in identities(ctx, user):
        if who in people.users or (groups if who == user else groups_of(tx, who)) & people.groups:
            return True
    return False


def copied_to(tx: Tx, instance_id: str) -> set[str]:
    """The users a task of the request was copied to (抄送)."""
    found: set[str] = set()
    for (data,) in tx.all(f"SELECT data FROM audit_event WHERE instance_id = ? AND event_type IN "
                          f"({tx.in_list(_COPY_EVENTS)})", (instance_id, *_COPY_EVENTS)):
        to = json.loads(data).get("to") or []
        found.update([to] if isinstance(to, str) else to)
    return found


def may_read(ctx: Services, tx: Tx, instance_id: str, user: str) -> bool:
    """Whether `user` may see the request's records: its people, those a task was copied to, the
    admins and the auditors."""
    return bool(groups_of(tx, user) & {AUDITORS, ADMINS}) or may_write(ctx, tx, instance_id, user) \
        or bool(set(identities(ctx, user)) & copied_to(tx, instance_id))


def may_post_progress(ctx: Services, tx: Tx, user: str, owner: str, lead_department: str | None) -> bool:
    """Whether `user` may report progress on a plan task owned by `owner` (auditors never)."""
    if AUDITORS in groups_of(tx, user):
        return False
    allowed = {owner, directory(ctx).head(lead_department)} - {None}
    return bool(allowed & set(identities(ctx, user)))


def require_writer(ctx: Services, tx: Tx, instance_id: str, user: str) -> None:
    """PermissionDenied unless `user` may write records of the request."""
    if not may_write(ctx, tx, instance_id, user):
        raise PermissionDenied("records.not_participant", user=user, request=instance_id)


def require_reader(ctx: Services, tx: Tx, instance_id: str, user: str) -> None:
    """PermissionDenied unless `user` may read the request's records."""
    if not may_read(ctx, tx, instance_id, user):
        raise PermissionDenied("records.not_reader", user=user, request=instance_id)


# --- auditors' reads ----------------------------------------------------------------------------------

VIEWED = "request_viewed"


def record_view(ctx: Services, instance_id: str, user: str, view: str) -> None:
    """Log that `user` read the request through `view`: an event of its audit chain, so the log is as
    tamper-evident as the rest; the cached workflow stays valid."""
    with ctx.db.transaction() as tx:
        head = chain.lock_chain(tx, str(instance_id))
        chain.append(tx, head, VIEWED, user, ctx.now(), data={"view": view})


def note_read(ctx: Services, instance_id: str, reader: str | None, view: str) -> None:
    """Every service that hands a request's content to a reader calls this once it has it: an
    auditor's read is logged on the request's chain (`view` says what was read: the request, a task,
    its history, ...); a read that cannot be logged fails. Other readers' reads are not logged."""
    if reader is not None and reader in directory(ctx).members(AUDITORS):
        record_view(ctx, instance_id, reader, view)
