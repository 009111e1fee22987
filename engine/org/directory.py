"""The organisation: departments, their heads and interface persons, superiors, substitutes.

Assignment expressions read the organisation through a `Directory`, an in-memory snapshot that
is reloaded when the organisation's revision (a row bumped by every change, in the change's own
transaction) moves on, so several processes on one database never act on a stale snapshot.
"""

from __future__ import annotations

import json
import threading
import weakref
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from zoneinfo import ZoneInfo

from sqlalchemy import event, insert, inspect, select, update
from sqlalchemy.orm import Session

from engine.context import Services
from engine.db.models import AppUser, Department, DepartmentPost, GroupMembership, OrgChange, Revision, Substitute
from engine.errors import InvalidInput, NotFound, PermissionDenied
from engine.messages import Msg
from engine.org import scope as org_scope

POSTS = ("head", "interface")
ADMINS = "platform_admins"
AUDITORS = "auditors"  # read everything, change nothing
# Roles held by a person everywhere are groups; the others follow from a request (its lead
# department's head, a plan task's owner, ...) and are never stored.
GLOBAL_ROLES = {"platform_admin": ADMINS, "auditor": AUDITORS, "process_owner": "process_owners"}
CONTEXT_ROLES = ("requester", "lead_head", "involved_head", "task_owner", "superior")
REVISION_KEY = "org"


@dataclass
class Directory:
    """A consistent snapshot of the organisation, for lookups without a database round trip."""

    revision: int
    departments: dict[str, dict] = field(default_factory=dict)  # id -> {name, parent_id, sort_order}
    users: dict[str, dict] = field(default_factory=dict)  # id -> {name, department_id, superior_id, active}
    posts: dict[tuple[str, str], str] = field(default_factory=dict)  # (department, post) -> user
    substitutes: list[tuple[str, str, date, date]] = field(default_factory=list)  # user, substitute, from, to
    groups: dict[str, set[str]] = field(default_factory=dict)  # user -> groups

    def head(self, dept: str | None) -> str | None:
        return self.posts.get((dept or "", "head"))

    def interface_person(self, dept: str | None) -> str | None:
        return self.posts.get((dept or "", "interface"))

    def department_of(self, user: str | None) -> str | None:
        return (self.users.get(user or "") or {}).get("department_id")

    def superior(self, user: str | None) -> str | None:
        """The user's superior: as recorded, else the head of their department (if not themselves)."""
        found = self.users.get(user or "")
        if found is None:
            return None
        if found["superior_id"]:
            return found["superior_id"]
        dept = found["department_id"]
        while dept:
            head = self.head(dept)
            if head and head != user:
                return head
            dept = self.departments[dept]["parent_id"]
        return None

    def chain(self, user: str | None) -> list[str]:
        """The user's superiors, nearest first (a cycle, refused on import, would stop the walk)."""
        out: list[str] = []
        current = self.superior(user)
        while current and current not in out and current != user:
            out.append(current)
            current = self.superior(current)
        return out

    def common_superior(self, users: list[str] | str | None) -> str | None:
        """The nearest person above every one of `users` (one of them, if above all the others)."""
        people = [users] if isinstance(users, str) else [u for u in (users or []) if u]
        if not people:
            return None
        chains = [[p, *self.chain(p)] for p in people]
        others = [set(c) for c in chains[1:]]
        for candidate in chains[0]:
            if all(candidate in c for c in others):
                # A party is not its own arbiter: when one party is above the others, go one up.
                return candidate if candidate not in people else (self.superior(candidate) or None)
        return None

    def substituted_by(self, user: str, day: date) -> list[str]:
        """The users whose tasks `user` receives on `day` (their substitute while they are away)."""
        return sorted({u for u, sub, start, end in self.substitutes if sub == user and start <= day <= end})

    def substitute_of(self, user: str, day: date) -> str | None:
        return next((sub for u, sub, start, end in self.substitutes if u == user and start <= day <= end), None)

    def members(self, group: str) -> list[str]:
        return sorted(u for u, gs in self.groups.items() if group in gs)

    @cached_property
    def workers(self) -> frozenset[str]:
        """The people who can be given work: active, and not auditors (who change nothing)."""
        return frozenset(u for u, v in self.users.items() if v["active"] and AUDITORS not in self.groups.get(u, ()))


class _Cache:
    def __init__(self):
        self.lock = threading.Lock()
        self.directory: Directory | None = None


_CACHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Database -> _Cache


def revision(s: Session) -> int:
    return s.scalar(select(Revision.value).where(Revision.name == REVISION_KEY)) or 0


def bump_revision(s: Session, at: datetime, by: str | None) -> None:
    """Mark the organisation changed, in the changing transaction (atomic under concurrency), and
    write what changed in it so far into its history (org_change) as of `at`, by `by`."""
    s.flush()
    changes = s.info.pop(_PENDING, [])
    if changes:
        s.execute(insert(OrgChange), [{**c, "at": at, "changed_by": by} for c in changes])
    s.execute(update(Revision).where(Revision.name == REVISION_KEY).values(value=Revision.value + 1))
    org_scope.changed()


# --- the organisation's history ---------------------------------------------------------------
# What the engine's functions read of a user, a department, a membership or an absence is written
# into org_change with its value before and after. Every change goes through the ORM, so one hook
# on the unit of work sees them all; the writer names the time and the person by bump_revision.
_PENDING = "org_changes"
USER_FIELDS = ("department_id", "superior_id", "active")
DEPARTMENT_FIELDS = ("parent_id",)


def _substitute_row(row: Substitute) -> str:
    return json.dumps([row.user_id, row.substitute_id, row.starts_on.isoformat(), row.ends_on.isoformat()])


def _value(obj, name: str):
    value = getattr(obj, name)
    if value is None and name == "active":
        return True  # the column's default, not yet applied before the insert
    return value


def _tracked(obj: AppUser | Department) -> tuple[str, tuple[str, ...]]:
    return ("user", USER_FIELDS) if isinstance(obj, AppUser) else ("department", DEPARTMENT_FIELDS)


@event.listens_for(Session, "after_flush")
def _collect(s: Session, _context) -> None:
    found: list[dict] = []
    for obj in s.new:
        if isinstance(obj, AppUser | Department):
            entity, fields = _tracked(obj)
            found += [{"entity": entity, "key": obj.id, "field": f, "old": None, "new": json.dumps(_value(obj, f))}
                      for f in fields if _value(obj, f) is not None]
        elif isinstance(obj, GroupMembership):
            found.append({"entity": "member", "key": obj.user_id, "field": obj.group_name, "old": None,
                          "new": "true"})
        elif isinstance(obj, Substitute):
            found.append({"entity": "substitute", "key": str(obj.id), "field": "row", "old": None,
                          "new": _substitute_row(obj)})
    for obj in s.dirty:
        if isinstance(obj, AppUser | Department):
            entity, fields = _tracked(obj)
            state = inspect(obj)
            for f in fields:
                history = state.attrs[f].history
                if history.has_changes() and history.deleted and history.deleted[0] != _value(obj, f):
                    found.append({"entity": entity, "key": obj.id, "field": f, "old": json.dumps(history.deleted[0]),
                                  "new": json.dumps(_value(obj, f))})
    for obj in s.deleted:
        if isinstance(obj, GroupMembership):
            found.append({"entity": "member", "key": obj.user_id, "field": obj.group_name, "old": "true",
                          "new": None})
        elif isinstance(obj, Substitute):
            found.append({"entity": "substitute", "key": str(obj.id), "field": "row", "old": _substitute_row(obj),
                          "new": None})
    if found:
        s.info.setdefault(_PENDING, []).extend(found)


@event.listens_for(Session, "before_commit")
def _unrecorded(s: Session) -> None:
    s.flush()
    if s.info.get(_PENDING):
        changes = s.info.pop(_PENDING)
        raise RuntimeError(f"the organisation changed without bump_revision (its history would miss "
                           f"{len(changes)} change(s), first {changes[0]})")


def directory(ctx: Services) -> Directory:
    """The current snapshot (reloaded only when the organisation changed); inside an org_snapshot
    scope, the one first read there."""
    scope = org_scope.current(ctx.db)
    if scope is not None:
        if scope.directory is None:
            scope.directory = _current(ctx)
        return scope.directory
    return _current(ctx)


_REVISION_SQL = "SELECT value FROM revision WHERE name = ?"


def _current(ctx: Services) -> Directory:
    # Keyed by the database object itself: an id() could be reused by another database after this
    # one is gone, and a fresh organisation there could show the same revision number.
    cache = _CACHES.setdefault(ctx.db, _Cache())
    tx = org_scope.read_with(ctx.db)
    if tx is not None:  # a command: its own connection says the revision
        found = tx.one(_REVISION_SQL, (REVISION_KEY,))
    else:
        with ctx.db.transaction(write=False) as read:  # asked on every request: on the command path's cursor
            found = read.one(_REVISION_SQL, (REVISION_KEY,))
    current = found[0] if found is not None and found[0] else 0
    found = cache.directory
    if found is not None and found.revision == current:
        return found
    # Read after the revision: what is loaded is at least as new as the number it is kept under.
    with cache.lock, ctx.db.read() as s:
        cache.directory = _load(s, current)
        return cache.directory


def _load(s: Session, rev: int) -> Directory:
    d = Directory(rev)
    for dept in s.scalars(select(Department)):
        d.departments[dept.id] = {"name": dept.name, "parent_id": dept.parent_id, "sort_order": dept.sort_order}
    for user in s.scalars(select(AppUser)):
        d.users[user.id] = {"name": user.display_name, "department_id": user.department_id,
                            "superior_id": user.superior_id, "active": user.active}
    for post in s.scalars(select(DepartmentPost).where(DepartmentPost.valid_to.is_(None))):
        d.posts[(post.department_id, post.post)] = post.user_id
    d.substitutes = [(x.user_id, x.substitute_id, x.starts_on, x.ends_on) for x in s.scalars(select(Substitute))]
    for m in s.scalars(select(GroupMembership)):
        d.groups.setdefault(m.user_id, set()).add(m.group_name)
    return d


def local_date(ctx: Services, moment: datetime | None = None) -> date:
    """The date in the organisation's time zone (out-of-office ranges are local dates)."""
    return (moment or ctx.now()).astimezone(ZoneInfo(ctx.config.timezone)).date()


def require_admin(s: Session, user: str) -> None:
    if s.get(GroupMembership, (user, ADMINS)) is None:
        raise PermissionDenied("admin.required", user=user, action=Msg("action.org"))


def set_post(ctx: Services, dept: str, post: str, user_id: str | None, by: str) -> None:
    """Give a department's post (head, interface) to `user_id`, or leave it empty; the old holder
    becomes history."""
    if post not in POSTS:
        raise InvalidInput("choice.unknown", what=Msg("what.post"), given=post, known=list(POSTS))
    now = ctx.now()
    with ctx.db.write() as s:
        require_admin(s, by)
        if s.get(Department, dept) is None:
            raise NotFound("department.unknown", department=dept)
        if user_id is not None and s.get(AppUser, user_id) is None:
            raise NotFound("user.unknown", user=user_id)
        write_post(s, dept, post, user_id, by, now)
        bump_revision(s, now, by)


def write_post(s: Session, dept: str, post: str, user_id: str | None, by: str, now: datetime) -> bool:
    """End the current holder's term and start `user_id`'s; False if nothing changes."""
    current = s.scalar(select(DepartmentPost).where(DepartmentPost.department_id == dept,
                                                    DepartmentPost.post == post, DepartmentPost.valid_to.is_(None)))
    if (current.user_id if current else None) == user_id:
        return False
    if current is not None:
        current.valid_to = now
        s.flush()  # the partial unique index allows one current holder
    if user_id is not None:
        s.add(DepartmentPost(department_id=dept, post=post, user_id=user_id, valid_from=now, changed_by=by))
    return True


def post_history(ctx: Services, dept: str, post: str = "interface") -> list[dict]:
    """Every holder of a department's post, oldest first."""
    with ctx.db.read() as s:
        rows = s.scalars(select(DepartmentPost).where(DepartmentPost.department_id == dept,
                                                      DepartmentPost.post == post).order_by(DepartmentPost.id))
        return [{"user_id": r.user_id, "from": r.valid_from.isoformat(),
                 "to": r.valid_to.isoformat() if r.valid_to else None, "changed_by": r.changed_by} for r in rows]


def add_substitute(ctx: Services, user_id: str, substitute_id: str, starts_on: date, ends_on: date,
                   reason: str, by: str) -> int:
    """Record an absence: while it lasts, `substitute_id` receives `user_id`'s tasks."""
    if ends_on < starts_on:
        raise InvalidInput("absence.ends_first", start=starts_on.isoformat(), end=ends_on.isoformat())
    if user_id == substitute_id:
        raise InvalidInput("absence.self")
    with ctx.db.write() as s:
        if by != user_id:
            require_admin(s, by)
        for uid in (user_id, substitute_id):
            if s.get(AppUser, uid) is None:
                raise NotFound("user.unknown", user=uid)
        overlapping = s.scalar(select(Substitute).where(
            Substitute.user_id == user_id, Substitute.starts_on <= ends_on, Substitute.ends_on >= starts_on))
        if overlapping is not None:
            raise InvalidInput("absence.overlaps", user=user_id, start=overlapping.starts_on.isoformat(),
                               end=overlapping.ends_on.isoformat())
        now = ctx.now()
        row = Substitute(user_id=user_id, substitute_id=substitute_id, starts_on=starts_on, ends_on=ends_on,
                         reason=reason, created_by=by, created_at=now)
        s.add(row)
        bump_revision(s, now, by)
        return row.id


def remove_substitute(ctx: Services, substitute_row: int, by: str) -> None:
    with ctx.db.write() as s:
        row = s.get(Substitute, substitute_row)
        if row is None:
            raise NotFound("absence.unknown", id=substitute_row)
        if by != row.user_id:
            require_admin(s, by)
        s.delete(row)
        bump_revision(s, ctx.now(), by)


def list_absences(ctx: Services, *, user_id: str | None = None, since: date | None = None) -> list[dict]:
    """Absences not over by `since` (default: today, local), earliest first; only `user_id`'s if given."""
    since = since or local_date(ctx)
    with ctx.db.read() as s:
        q = select(Substitute).where(Substitute.ends_on >= since).order_by(Substitute.starts_on, Substitute.id)
        if user_id is not None:
            q = q.where(Substitute.user_id == user_id)
        return [{"id": r.id, "user_id": r.user_id, "substitute_id": r.substitute_id,
                 "starts_on": r.starts_on.isoformat(), "ends_on": r.ends_on.isoformat(), "reason": r.reason,
                 "created_by": r.created_by, "created_at": r.created_at.isoformat(), "current": r.starts_on <= since}
                for r in s.scalars(q)]


def org_changes(ctx: Services, entity: str, key: str, limit: int = 200) -> list[dict]:
    """The recorded changes of one user (entity "user": department, superior, state, and their
    group memberships) or one department (entity "department": its parent), newest first:
    {at, field, old, new, changed_by, kind}, kind "user" | "member" | "department"."""
    kinds = ("user", "member") if entity == "user" else (entity,)
    with ctx.db.read() as s:
        rows = s.scalars(select(OrgChange).where(OrgChange.entity.in_(kinds), OrgChange.key == key)
                         .order_by(OrgChange.id.desc()).limit(limit))
        return [{"at": r.at.isoformat(), "kind": r.entity, "field": r.field,
                 "old": None if r.old is None else json.loads(r.old),
                 "new": None if r.new is None else json.loads(r.new), "changed_by": r.changed_by} for r in rows]


def post_directory(ctx: Services) -> list[dict]:
    """Every department with its head and interface person (name and the contact fields of their
    user), and every holder of each post with their term, newest first: the directory everyone reads.

    [{id, name, parent_id, parent, head, interface, history: {head: [...], interface: [...]}}] in the
    organisation's order; a holder: {user_id, name, department_id, email, phone, active, from, to,
    changed_by}.
    """
    with ctx.db.read() as s:
        users = {u.id: u for u in s.scalars(select(AppUser))}
        departments = list(s.scalars(select(Department).order_by(Department.sort_order, Department.name)))
        posts: dict[tuple[str, str], list[dict]] = {}
        for row in s.scalars(select(DepartmentPost).order_by(DepartmentPost.valid_from.desc(),
                                                             DepartmentPost.id.desc())):
            user = users.get(row.user_id)
            posts.setdefault((row.department_id, row.post), []).append({
                "user_id": row.user_id, "name": user.display_name if user else row.user_id,
                "department_id": user.department_id if user else None, "email": user.email if user else None,
                "phone": user.phone if user else None, "active": bool(user and user.active),
                "from": row.valid_from.isoformat(), "to": row.valid_to.isoformat() if row.valid_to else None,
                "changed_by": row.changed_by})
        names = {d.id: d.name for d in departments}
        result = []
        for dept in departments:
            history = {post: posts.get((dept.id, post), []) for post in POSTS}
            current = {post: next((h for h in held if h["to"] is None), None) for post, held in history.items()}
            result.append({"id": dept.id, "name": dept.name, "parent_id": dept.parent_id,
                           "parent": names.get(dept.parent_id or ""), **current, "history": history})
        return result
