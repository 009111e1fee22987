"""Import the organisation from YAML or CSV: everything is checked first, then written at once.

An import adds and updates departments, users, posts and substitutes; it never deletes. Every
problem is reported with where it is (file, line or entry) and nothing is written if there is one.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.context import Services
from engine.db.models import AppUser, Department, GroupMembership, Substitute
from engine.errors import OrgInvalid
from engine.messages import Msg
from engine.org.directory import CONTEXT_ROLES, GLOBAL_ROLES, bump_revision, require_admin, write_post


@dataclass
class DepartmentIn:
    id: str
    name: str
    where: str
    parent: str | None = None
    head: str | None = None
    interface: str | None = None
    sort_order: int = 0


@dataclass
class UserIn:
    id: str
    name: str
    where: str
    department: str | None = None
    superior: str | None = None
    email: str | None = None
    phone: str | None = None
    roles: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)


@dataclass
class SubstituteIn:
    user: str
    substitute: str
    starts_on: date
    ends_on: date
    where: str
    reason: str = ""


@dataclass
class OrgData:
    departments: list[DepartmentIn] = field(default_factory=list)
    users: list[UserIn] = field(default_factory=list)
    substitutes: list[SubstituteIn] = field(default_factory=list)


@dataclass
class ImportResult:
    departments: int
    users: int
    posts_changed: int
    substitutes: int

    def to_dict(self) -> dict:
        return self.__dict__.copy()


def _text(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _list(value) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).replace("，", ",").replace(";", ",").split(",")
    return [str(v).strip() for v in items if str(v).strip()]


def _date(value, where: str, what: str, problems: list[Msg]) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        problems.append(Msg("org.not_date", where=where, key=what, given=str(value)))
        return None


def _need(entry: dict, key: str, where: str, problems: list[Msg]) -> str:
    value = _text(entry.get(key))
    if value is None:
        problems.append(Msg("org.required", where=where, key=key))
    return value or ""


def parse_yaml(text: str, source: str = "org.yaml") -> OrgData:
    """Read `departments:`, `users:` and `substitutes:` lists from a YAML document."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"{source}:{mark.line + 1}" if mark else source
        raise OrgInvalid([Msg("org.bad_yaml", where=at, detail=str(getattr(exc, "problem", exc)))]) from None
    if not isinstance(doc, dict):
        raise OrgInvalid([Msg("org.not_mapping", where=source)])
    problems: list[Msg] = []
    unknown = sorted(set(doc) - {"departments", "users", "substitutes"})
    if unknown:
        problems.append(Msg("org.unknown_sections", where=source, names=[str(u) for u in unknown]))
    data = OrgData()
    sections = {name: doc.get(name) or [] for name in ("departments", "users", "substitutes")}
    for name, entries in sections.items():
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            problems.append(Msg("org.not_list", where=source, key=name))
            sections[name] = []
    for n, e in enumerate(sections["departments"], start=1):
        where = f"{source} departments[{n}]"
        data.departments.append(DepartmentIn(
            id=_need(e, "id", where, problems), name=_need(e, "name", where, problems), where=where,
            parent=_text(e.get("parent")), head=_text(e.get("head")), interface=_text(e.get("interface")),
            sort_order=int(e.get("sort_order") or n)))
    for n, e in enumerate(sections["users"], start=1):
        where = f"{source} users[{n}]"
        data.users.append(_user(e, where, problems))
    for n, e in enumerate(sections["substitutes"], start=1):
        where = f"{source} substitutes[{n}]"
        starts = _date(e.get("from"), where, "from", problems)
        ends = _date(e.get("to"), where, "to", problems)
        data.substitutes.append(SubstituteIn(
            user=_need(e, "user", where, problems), substitute=_need(e, "substitute", where, problems),
            starts_on=starts or date.min, ends_on=ends or date.min, where=where, reason=_text(e.get("reason")) or ""))
    if problems:
        raise OrgInvalid(problems)
    return data


def _user(e: dict, where: str, problems: list[Msg]) -> UserIn:
    return UserIn(
        id=_need(e, "id", where, problems), name=_need(e, "name", where, problems), where=where,
        department=_text(e.get("department")), superior=_text(e.get("superior")), email=_text(e.get("email")),
        phone=_text(e.get("phone")), roles=_list(e.get("roles")), groups=_list(e.get("groups")))


def parse_csv(departments: str | None, users: str | None, source: tuple[str, str] = ("departments.csv",
                                                                                    "users.csv")) -> OrgData:
    """Read a departments CSV (id,name,parent,head,interface) and a users CSV
    (id,name,department,superior,email,phone,roles,groups); lists inside a cell are comma separated."""
    data, problems = OrgData(), []
    for text, name, required in ((departments, source[0], ("id", "name")), (users, source[1], ("id", "name"))):
        if text is None:
            continue
        reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            problems.append(Msg("org.missing_columns", where=name, names=missing))
            continue
        for row in reader:
            where = f"{name}:{reader.line_num}"
            if name == source[0]:
                data.departments.append(DepartmentIn(
                    id=_need(row, "id", where, problems), name=_need(row, "name", where, problems), where=where,
                    parent=_text(row.get("parent")), head=_text(row.get("head")),
                    interface=_text(row.get("interface")), sort_order=reader.line_num))
            else:
                data.users.append(_user(row, where, problems))
    if problems:
        raise OrgInvalid(problems)
    return data


def _check(s: Session, data: OrgData) -> list[Msg]:
    problems: list[Msg] = []
    seen_depts: dict[str, str] = {}
    for d in data.departments:
        if d.id in seen_depts:
            problems.append(Msg("org.department_twice", where=d.where, id=d.id, first=seen_depts[d.id]))
        seen_depts.setdefault(d.id, d.where)
    seen_users: dict[str, str] = {}
    for u in data.users:
        if u.id in seen_users:
            problems.append(Msg("org.user_twice", where=u.where, id=u.id, first=seen_users[u.id]))
        seen_users.setdefault(u.id, u.where)
    stored_depts = {d.id: d.parent_id for d in s.scalars(select(Department))}
    stored_users = {u.id: u.superior_id for u in s.scalars(select(AppUser))}
    parents = {**stored_depts, **{d.id: d.parent for d in data.departments}}
    superiors = {**stored_users, **{u.id: u.superior for u in data.users}}
    for d in data.departments:
        if d.parent and d.parent not in parents:
            problems.append(Msg("org.parent_unknown", where=d.where, id=d.parent))
        for post, holder in (("head", d.head), ("interface", d.interface)):
            if holder and holder not in superiors:
                problems.append(Msg("org.post_not_user", where=d.where, post=Msg("post." + post), id=holder))
    for u in data.users:
        if u.department and u.department not in parents:
            problems.append(Msg("org.department_unknown", where=u.where, id=u.department))
        if u.superior and u.superior not in superiors:
            problems.append(Msg("org.superior_not_user", where=u.where, id=u.superior))
        for role in u.roles:
            if role in CONTEXT_ROLES:
                problems.append(Msg("org.role_per_request", where=u.where, role=role))
            elif role not in GLOBAL_ROLES:
                problems.append(Msg("org.role_unknown", where=u.where, role=role, known=list(GLOBAL_ROLES)))
    problems += _cycles("department", {d.id: d.where for d in data.departments}, parents, "parent")
    problems += _cycles("user", {u.id: u.where for u in data.users}, superiors, "superior")
    for sub in data.substitutes:
        for who in (sub.user, sub.substitute):
            if who not in superiors:
                problems.append(Msg("org.not_user", where=sub.where, id=who))
        if sub.user == sub.substitute:
            problems.append(Msg("org.substitute_self", where=sub.where))
        if sub.ends_on < sub.starts_on:
            problems.append(Msg("org.absence_reversed", where=sub.where, start=sub.starts_on.isoformat(),
                                end=sub.ends_on.isoformat()))
    return problems


def _cycles(kind: str, listed: dict[str, str], links: dict[str, str | None], what: str) -> list[Msg]:
    problems, reported = [], set()
    for start, where in listed.items():
        path, current = [start], links.get(start)
        while current and current in links and current not in path:
            path.append(current)
            current = links.get(current)
        if current in path and frozenset(path[path.index(current):]) not in reported:
            loop = path[path.index(current):] + [current]
            reported.add(frozenset(loop))
            problems.append(Msg(f"org.cycle_{what}", where=where, id=start, loop=" -> ".join(loop)))
    return problems


def import_org(ctx: Services, data: OrgData, by: str, *, bootstrap: bool = False) -> ImportResult:
    """Check and write the organisation in one transaction; `bootstrap` lets a first import (an empty
    organisation, e.g. the demo) run without an existing platform admin."""
    now = ctx.now()
    with ctx.db.write() as s:
        if not (bootstrap and s.scalar(select(GroupMembership).limit(1)) is None):
            require_admin(s, by)
        problems = _check(s, data)
        if problems:
            raise OrgInvalid(problems)
        # Departments first without posts (heads may be users of this very file), parents in order.
        pending = list(data.departments)
        while pending:
            ready = [d for d in pending if not d.parent or s.get(Department, d.parent) is not None
                     or d.parent not in {p.id for p in pending}]
            for d in ready:
                row = s.get(Department, d.id) or Department(id=d.id)
                row.name, row.parent_id, row.sort_order = d.name, d.parent, d.sort_order
                s.add(row)
            s.flush()
            pending = [d for d in pending if d not in ready]
        for u in data.users:
            row = s.get(AppUser, u.id) or AppUser(id=u.id)
            row.display_name, row.department_id, row.email, row.phone = u.name, u.department, u.email, u.phone
            s.add(row)
        s.flush()
        for u in data.users:  # superiors may come later in the file
            s.get(AppUser, u.id).superior_id = u.superior
            for group in {*(GLOBAL_ROLES[r] for r in u.roles), *u.groups}:
                if s.get(GroupMembership, (u.id, group)) is None:
                    s.add(GroupMembership(user_id=u.id, group_name=group))
        changed = sum(write_post(s, d.id, post, holder, by, now)
                      for d in data.departments for post, holder in (("head", d.head), ("interface", d.interface))
                      if holder)
        for sub in data.substitutes:
            exists = s.scalar(select(Substitute).where(
                Substitute.user_id == sub.user, Substitute.substitute_id == sub.substitute,
                Substitute.starts_on == sub.starts_on, Substitute.ends_on == sub.ends_on))
            if exists is None:
                s.add(Substitute(user_id=sub.user, substitute_id=sub.substitute, starts_on=sub.starts_on,
                                 ends_on=sub.ends_on, reason=sub.reason, created_by=by, created_at=now))
        bump_revision(s, now, by)
    return ImportResult(len(data.departments), len(data.users), changed, len(data.substitutes))

