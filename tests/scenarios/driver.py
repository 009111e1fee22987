"""The scenario driver (`Flow`): one request driven through the engine services only.

It completes a task as the person the organisation says should: its assignee, or a member of the
group it is offered to, and it checks that the task sits in that person's inbox first. After every
command it checks that the workflow kept in memory equals a fresh reload from the database.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from engine.bpmn.deploy import deploy
from engine.db.models import Notification
from engine.org.directory import directory
from engine.org.importer import import_org, parse_yaml
from engine.requests.records import list_records
from engine.requests.requests import submit_request
from engine.tasks.inbox import group_tasks, my_tasks
from engine.workflow.instances import CommandResult, complete_task, describe_instance, task_form
from engine.workflow.timers import run_due_timers
from tests.helpers import assert_reload_matches, reloaded_state
from tests.scenarios.steps import CONFLICT, MAIN

ROOT = Path(__file__).parents[2]
MONDAY = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # Monday 2 November 2026, 09:00 in Beijing


def _row(task: dict) -> dict:
    due = task["due_at"]
    return {**task, "due_at": datetime.fromisoformat(due) if due else None}


class Flow:
    """One request (or conflict) driven through the real services with a hand-moved clock."""

    def __init__(self, ctx, clock):
        self.ctx = ctx
        self.clock = clock
        # cold: every command reads the instance from the database, as a command in another web
        # worker or a `xiezuo` process does, instead of taking the workflow the last one left
        self.cold = False
        self.instance_id: str | None = None
        self._seen = 0  # notifications already handed out by notifications()

    def _command_begins(self) -> None:
        if self.cold:
            self.ctx.store.cache.clear()

    # ------------------------------------------------------------------ starting
    def submit(self, user: str, data: dict, process_id: str = MAIN) -> dict:
        """File a request as `user`; the instance becomes the one this driver follows."""
        started = submit_request(self.ctx, user, data, process_id=process_id)
        self.instance_id = started.instance_id
        self._seen = 0
        assert started.status == "running", started
        assert_reload_matches(self.ctx, self.instance_id)
        return self.describe()

    # ------------------------------------------------------------------ reading
    def describe(self) -> dict:
        return describe_instance(self.ctx, self.instance_id)

    @property
    def status(self) -> str:
        return self.describe()["status"]

    def open_tasks(self) -> list[dict]:
        """The open user tasks of the instance (inbox rows, due_at as an aware datetime)."""
        return [_row(t) for t in self.describe()["open_tasks"]]

    def open_elements(self) -> list[str]:
        return sorted(t["element_id"] for t in self.open_tasks())

    def tasks(self, element_id: str) -> list[dict]:
        return [t for t in self.open_tasks() if t["element_id"] == element_id]

    def task(self, element_id: str, assignee: str | None = None) -> dict:
        """The one open task of `element_id` (assigned to `assignee`, if given)."""
        found = [t for t in self.tasks(element_id) if assignee is None or t["assignee"] == assignee]
        assert len(found) == 1, (element_id, assignee, [(t["element_id"], t["assignee"]) for t in self.open_tasks()])
        return found[0]

    def assignees(self, element_id: str) -> list[str]:
        return sorted(t["assignee"] for t in self.tasks(element_id))

    def actor(self, task: dict) -> str:
        """Who works on `task` by the organisation: its assignee, else a candidate or group member."""
        if task["assignee"]:
            return task["assignee"]
        if task["candidate_users"]:
            return task["candidate_users"][0]
        org = directory(self.ctx)
        members = [m for g in task["candidate_groups"] for m in org.members(g)]
        assert members, f"nobody may work on {task['element_id']}"
        return members[0]

    def inbox(self, user: str) -> dict[str, str]:
        """Task id -> element id of this instance's tasks in `user`'s own and group inboxes."""
        rows = my_tasks(self.ctx, user, per_page=500).items + group_tasks(self.ctx, user, per_page=500).items
        return {t["task_id"]: t["element_id"] for t in rows if t["instance_id"] == self.instance_id}

    def form(self, element_id: str, assignee: str | None = None, as_user: str | None = None) -> dict:
        """The data a ready task shows its user (what was passed to it by earlier steps)."""
        task = self.task(element_id, assignee)
        return task_form(self.ctx, task["task_id"], as_user or self.actor(task))["data"]

    def opening(self, element_id: str, assignee: str | None = None) -> dict:
        """The values a ready task's form opens with (the data, less what is asked afresh)."""
        task = self.task(element_id, assignee)
        return task_form(self.ctx, task["task_id"], self.actor(task))["values"]

    def history(self, event_type: str | None = None) -> list[dict]:
        events = self.describe()["history"]
        return [e for e in events if event_type is None or e["type"] == event_type]

    def completed_by(self, element_id: str) -> list[tuple[str, dict]]:
        """(actor, submitted data) of every completion of `element_id`, in order."""
        return [(e["actor"], e["data"]) for e in self.history("task_completed") if e["element_id"] == element_id]

    def timers_fired(self) -> list[str]:
        return [e["element_id"] for e in self.history("timer_fired")]

    def reached(self) -> set[str]:
        """Every element the instance has completed (called subprocesses included), from its stored state."""
        state = reloaded_state(self.ctx, self.instance_id)
        workflows = [state, *state["subprocesses"].values()]
        return {t["task_spec"] for w in workflows for t in w["tasks"].values() if t["state"] == TaskState.COMPLETED}

    def data(self) -> dict:
        """The workflow data as stored (complete once the instance has finished)."""
        return reloaded_state(self.ctx, self.instance_id)["data"]

    def records(self, kind: str | None = None, as_user: str | None = None) -> list[dict]:
        """The request's records (of `kind`) in the order written, as `as_user` (by default its
        initiator) reads them: what the request's page shows beside a task's form."""
        user = as_user or self.describe()["initiator"]
        return [r for r in list_records(self.ctx, self.instance_id, user) if kind is None or r["kind"] == kind]

    def notifications(self, new_tasks: bool = False) -> list[tuple[str, str, str]]:
        """(recipient, kind, message) written for this instance since the previous call, oldest first;
        the engine's notices of new tasks (kind `task`) only with `new_tasks`, the diagrams' own
        messages otherwise."""
        with self.ctx.db.read() as s:
            rows = s.execute(select(Notification.id, Notification.recipient, Notification.kind, Notification.message)
                             .where(Notification.instance_id == self.instance_id, Notification.id > self._seen)
                             .order_by(Notification.id)).all()
        if rows:
            self._seen = rows[-1].id
        return [(r.recipient, r.kind, r.message) for r in rows if new_tasks or r.kind != "task"]

    # ------------------------------------------------------------------ acting
    def complete(self, element_id: str, data: dict, as_user: str | None = None,
                 assignee: str | None = None) -> CommandResult:
        """Complete the open `element_id` task (the one of `assignee`, if several are open) as the
        user the organisation names, or `as_user`; the task must be in that user's inbox."""
        task = self.task(element_id, assignee)
        user = as_user or self.actor(task)
        assert self.inbox(user).get(task["task_id"]) == element_id, f"{element_id} is not in {user}'s inbox"
        self._command_begins()
        result = complete_task(self.ctx, task["task_id"], user, data)
        assert_reload_matches(self.ctx, self.instance_id)
        return result

    def complete_each(self, element_id: str, data_by_assignee: dict[str, dict]) -> None:
        """Complete every open `element_id` task, each by its own assignee with its own data."""
        assert self.assignees(element_id) == sorted(data_by_assignee), self.assignees(element_id)
        for assignee, data in data_by_assignee.items():
            self.complete(element_id, data, assignee=assignee)

    def advance(self, **delta) -> list[str]:
        """Move the clock on and run the timer sweep once; the ids of the instances it advanced."""
        self.clock.advance(**delta)
        self._command_begins()
        fired = run_due_timers(self.ctx, self.clock.now)
        if self.instance_id in fired:
            assert_reload_matches(self.ctx, self.instance_id)
        return fired

    def advance_to(self, moment: datetime, **step) -> list[str]:
        """Move the clock to `moment`, sweeping after every `step` (e.g. days=1) on the way and there."""
        fired: list[str] = []
        if step:
            while self.clock.now + timedelta(**step) < moment:
                fired += self.advance(**step)
        return fired + self.advance(seconds=(moment - self.clock.now).total_seconds())


def set_up_org(ctx):
    """Import the demo organisation and deploy both product diagrams."""
    import_org(ctx, parse_yaml((ROOT / "demo" / "org.yaml").read_text("utf-8")), "setup", bootstrap=True)
    files = {p.name: p.read_bytes() for p in sorted((ROOT / "processes").glob("*.bpmn"))}
    assert sorted(v.process_id for v in deploy(ctx, files, "lijingli")) == [MAIN, CONFLICT]
    return ctx
