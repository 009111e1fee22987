"""The organisation and the working calendar as they were at a moment, for the audit replay: the
organisation now, taken back through its recorded changes (org_change), posts from their terms,
working days from the rulings made by then."""

from __future__ import annotations

import bisect
import json
from datetime import datetime

from engine.db.tx import Tx
from engine.org.directory import Directory
from engine.org.workdays import WorkCalendar


# ---------------------------------------------------------------------------------- the past
class History:
    """The organisation and the calendar as they were at a given time, from what the database keeps:
    the organisation now, taken back through its history (org_change, newest first) to the time
    asked for; posts from their terms; working days from the rulings made by then."""

    def __init__(self, tx: Tx):
        self.base = Directory(-1)
        for did, name, parent, order in tx.all("SELECT id, name, parent_id, sort_order FROM department"):
            self.base.departments[did] = {"name": name, "parent_id": parent, "sort_order": order}
        for uid, name, dept, sup, active in tx.all(
                "SELECT id, display_name, department_id, superior_id, active FROM app_user"):
            self.base.users[uid] = {"name": name, "department_id": dept, "superior_id": sup, "active": bool(active)}
        self.absences = {str(i): (u, s, _day(a), _day(b)) for i, u, s, a, b in tx.all(
            "SELECT id, user_id, substitute_id, starts_on, ends_on FROM substitute")}
        self.memberships = {(uid, group) for uid, group in tx.all("SELECT user_id, group_name FROM group_membership")}
        self.changes = [(Tx.when(at), entity, key, name, None if old is None else json.loads(old))
                        for at, entity, key, name, old in tx.all(
                            "SELECT at, entity, key, field, old FROM org_change ORDER BY id")]
        self.posts = [(d, p, u, Tx.when(a), Tx.when(b)) for d, p, u, a, b in tx.all(
            "SELECT department_id, post, user_id, valid_from, valid_to FROM department_post")]
        self._org_times = sorted({t for *_, a, b in self.posts for t in (a, b) if t is not None}
                                 | {c[0] for c in self.changes})
        self.rulings = sorted(((Tx.when(at), _day(day), bool(w)) for day, w, at in tx.all(
            "SELECT day, workday, set_at FROM calendar_day")), key=lambda r: r[0])
        self._ruling_times = [r[0] for r in self.rulings]
        self._directories: dict[int, Directory] = {}
        self._calendars: dict[int, WorkCalendar] = {}

    def directory(self, at: datetime) -> Directory:
        """The organisation as it was at `at`: every change made after it undone, the posts then held."""
        key = bisect.bisect_right(self._org_times, at)
        found = self._directories.get(key)
        if found is None:
            departments = {d: dict(v) for d, v in self.base.departments.items()}
            users = {u: dict(v) for u, v in self.base.users.items()}
            absences, memberships = dict(self.absences), set(self.memberships)
            for when, entity, name, what, old in reversed(self.changes):
                if when <= at:
                    continue
                if entity == "user" and name in users:
                    users[name][what] = old
                elif entity == "department" and name in departments:
                    departments[name][what] = old
                elif entity == "member":
                    (memberships.add if old else memberships.discard)((name, what))
                elif entity == "substitute":
                    if old is None:
                        absences.pop(name, None)
                    else:
                        absences[name] = (old[0], old[1], _day(old[2]), _day(old[3]))
            groups: dict[str, set[str]] = {}
            for uid, group in memberships:
                groups.setdefault(uid, set()).add(group)
            found = Directory(-1, departments, users, {}, sorted(absences.values()), groups)
            for dept, post, user, start, end in self.posts:
                if start <= at and (end is None or end > at):
                    found.posts[(dept, post)] = user
            self._directories[key] = found
        return found

    def calendar(self, at: datetime) -> WorkCalendar:
        """Working days with the rulings made by `at`."""
        key = bisect.bisect_right(self._ruling_times, at)
        found = self._calendars.get(key)
        if found is None:
            found = WorkCalendar({day: workday for _, day, workday in self.rulings[:key]})
            self._calendars[key] = found
        return found


def _day(value):
    from datetime import date

    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
