"""Who may work on a user task, when it is due and how urgent: resolved when the task opens."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine.bpmn.parser import UserTask, split_list

_PLACEHOLDER = re.compile(r"\$\{(.*?)\}")


@dataclass
class Assignment:
    assignee: str | None
    candidate_users: list[str]
    candidate_groups: list[str]
    due_at: datetime | None
    priority: int
    fallback: bool = False  # nobody was found: the fallback group got the task, or its noAssignee rule
    fallback_to: str | None = None  # that rule when not the group: superior (the assignee) or skip
    passed_over: list[str] = field(default_factory=list)  # auditors named by the diagram: they act on nothing


def _expand(task, value: str | None) -> list[str]:
    """Evaluate `${...}` placeholders against the task's data; a list result yields several names."""
    if not value:
        return []
    match = _PLACEHOLDER.fullmatch(value.strip())
    engine = task.workflow.script_engine
    if match:
        result = engine.evaluate(task, match.group(1))
        if result is None:
            return []
        if isinstance(result, (list, tuple, set)):
            return [str(v) for v in result if v not in (None, "")]
        return split_list(str(result))
    text = _PLACEHOLDER.sub(lambda m: str(engine.evaluate(task, m.group(1)) or ""), value)
    return split_list(text)


def _due(task, spec: UserTask, opened: datetime) -> datetime | None:
    if not spec.due_date:
        return None
    match = _PLACEHOLDER.fullmatch(spec.due_date.strip())
    value = task.workflow.script_engine.evaluate(task, match.group(1)) if match else spec.due_date.strip()
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, timedelta):
        return opened + value
    text = str(value)
    if text.upper().startswith("P"):
        parsed = TimerEventDefinition.parse_iso_duration(text)
        return opened + TimerEventDefinition.get_timedelta_from_start(parsed, opened)
    due = datetime.fromisoformat(text)
    return due if due.tzinfo else due.replace(tzinfo=UTC)


def resolve(task, opened: datetime, default_priority: int, fallback_group: str,
            auditors: Collection[str] = (), auditor_group: str = "auditors",
            superior: Callable[[str | None], str | None] | None = None) -> Assignment:
    """Resolve a ready user task's assignment from its spec and the task data. `auditors` read
    everything and act on nothing: the diagram naming one (or their group) does not give them the
    task; named alone, the task goes to the fallback group, with who was passed over. When nobody
    can take it, the step's noAssignee rule decides: the fallback group (admins), the requester's
    `superior` (at the step's time), or skip (the group holds it until the engine passes it)."""
    spec: UserTask = task.task_spec
    named = (_expand(task, spec.assignee) or [None])[0]
    assignee = None if named in auditors else named
    named_users = [u for v in spec.candidate_users for u in _expand(task, v)]
    users = [u for u in named_users if u not in auditors]
    groups = [g for v in spec.candidate_groups for g in _expand(task, v) if g != auditor_group]
    passed_over = list(dict.fromkeys(u for u in (named, *named_users) if u in auditors))
    declared = bool(spec.assignee or spec.candidate_users or spec.candidate_groups)
    if not (assignee or users or groups) and spec.lane and not declared:
        groups = [spec.lane]  # the lane names the group only when the task names nobody itself
    fallback = not (assignee or users or groups)
    fallback_to = None
    if fallback:
        groups = [fallback_group]
        rule = spec.form.rules.get("noAssignee")
        boss = superior(task.data.get("initiator")) if rule == "superior" and superior else None
        if boss and boss not in auditors:
            assignee, groups, fallback_to = boss, [], "superior"
        elif rule == "skip":
            fallback_to = "skip"
    priority = default_priority
    if spec.priority:
        raw = _expand(task, spec.priority)
        priority = int(raw[0]) if raw else default_priority
    return Assignment(assignee, list(dict.fromkeys(users)), list(dict.fromkeys(groups)),
                      _due(task, spec, opened), priority, fallback=fallback, fallback_to=fallback_to,
                      passed_over=passed_over)
