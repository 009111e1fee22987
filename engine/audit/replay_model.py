"""What a replay works with: the recorded events, the differences it finds, the inbox it keeps beside
the workflow, and the state of one instance's replay."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from engine.bpmn.runtime import XWorkflow


@dataclass
class Event:
    seq: int
    type: str
    actor: str
    at: datetime
    element_id: str | None
    task_id: str | None
    data: dict

    def to_dict(self) -> dict:
        return {"seq": self.seq, "type": self.type, "actor": self.actor, "at": self.at.isoformat(),
                "element_id": self.element_id, "task_id": self.task_id, "data": self.data}


@dataclass
class Difference:
    where: str  # "event 12", "task <id> (element)", "data.key", "status", ...
    detail: str

    def to_dict(self) -> dict:
        return {"where": self.where, "detail": self.detail}


# ---------------------------------------------------------------------------------- one instance
@dataclass
class InboxEntry:
    element_id: str | None
    assignee: str | None
    candidate_users: list[str]
    opened_at: datetime


@dataclass
class Replay:
    """One instance being replayed."""

    instance_id: str
    business_key: str | None
    version_id: int
    wf: XWorkflow | None = None
    status: str = "running"
    error: dict | None = None
    now: datetime | None = None
    created_at: datetime | None = None
    differences: list[Difference] = field(default_factory=list)
    notifications: list[dict] = field(default_factory=list)  # what notify() was asked; never sent
    inbox: dict[str, InboxEntry] = field(default_factory=dict)  # open user tasks, as recorded

    def differ(self, where: str, detail: str) -> None:
        self.differences.append(Difference(where, detail))
