"""What the product does when the core moves a workflow: handlers the core calls, knowing nothing of
them. The composition root (engine.bootstrap) wires the collaboration's (engine.requests.handlers);
a start may bring its own preparation (filing a request numbers it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from engine.bpmn.forms import Form
from engine.db.tx import Tx
from engine.workflow.store import InstanceRow


@dataclass(frozen=True)
class OnTask:
    """A user task being worked on in the command's transaction: who, when, on which form."""

    ctx: Any
    tx: Tx
    row: InstanceRow
    task_id: str
    element_id: str | None
    user: str
    now: datetime
    form: Form


@dataclass(frozen=True)
class Completion(OnTask):
    """A user task being completed, before the workflow moves."""

    values: dict  # the submitted values, validated
    task_data: dict  # the task's data as the form showed it


@dataclass(frozen=True)
class Attaching(OnTask):
    """Files sent with a completion, before the form is checked: the handler stores them and puts
    what names them into `values` under their field's id."""

    files: dict  # field id -> the uploads sent for it
    values: dict


@dataclass(frozen=True)
class Start:
    """An instance being started, in the command's transaction, before its first step: a
    preparation may give it a business key (`row.business_key`) and add to its start `values`."""

    ctx: Any
    tx: Tx
    row: InstanceRow
    values: dict
    now: datetime


@dataclass(frozen=True)
class Reactions:
    """The handlers: `completed` run in order on every completion; `task_data` says which submitted
    values a completed task adds to the workflow's data (all of them unless the product keeps some
    elsewhere; replay uses the same, so a replayed completion moves the same data); `attach` keeps
    the files sent with a completion (without it a completion takes no files); `subject` names what
    a task that opens is about, from its data (one plan task of a multi-instance step), for its
    inbox row; `working_days(ctx, start, n)` counts n working days on (the organisation's calendar:
    a step's timeout; calendar days without it)."""

    completed: tuple[Callable[[Completion], None], ...] = ()
    task_data: Callable[[Form, dict], dict] | None = None
    # Stores the files of a completion: (errors by field id, the writes to do once the form is valid).
    attach: Callable[[Attaching], tuple[dict, Callable[[], None]]] | None = None
    subject: Callable[[dict], str | None] | None = None
    working_days: Callable[[Any, datetime, int], datetime] | None = None

    def subject_of(self, data: dict) -> str | None:
        found = self.subject(data) if self.subject is not None else None
        return str(found)[:255] if found else None

    def days_on(self, ctx: Any, start: datetime, n: int) -> datetime:
        return self.working_days(ctx, start, n) if self.working_days is not None else start + timedelta(days=n)

    def data_of(self, form: Form, values: dict) -> dict:
        return self.task_data(form, values) if self.task_data is not None else dict(values)
