"""What a command tells people: notify() of scripts and the notice of each new task, queued while
the command runs and written into the notification outbox in its own transaction (write_notices),
so a rolled-back command notifies nobody. Also which instance the engine is stepping, for the
functions scripts call that ask about "this request" (engine.requests.expressions).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from engine.bpmn.script_task import attached_activity
from engine.messages import MESSAGES, Msg, render

KINDS = ("task", "return", "reminder", "urge", "escalation", "red_warning", "info")

_QUEUE: ContextVar[list[dict] | None] = ContextVar("xiezuo_notifications", default=None)
_INSTANCE: ContextVar[str | None] = ContextVar("xiezuo_instance", default=None)


@contextmanager
def running_instance(instance_id: str) -> Iterator[None]:
    """Mark which instance the engine is stepping, for functions that ask about "this request"."""
    token = _INSTANCE.set(instance_id)
    try:
        yield
    finally:
        _INSTANCE.reset(token)


@contextmanager
def collecting_notifications() -> Iterator[list[dict]]:
    """Collect what notify() is asked during a command, for the command to write."""
    queued: list[dict] = []
    token = _QUEUE.set(queued)
    try:
        yield queued
    finally:
        _QUEUE.reset(token)


def notify(recipients: Any, kind: str, message: str) -> None:
    """Queue a notification for each recipient (a user id or a list of them)."""
    queued = _QUEUE.get()
    if queued is None:
        raise RuntimeError("notify() is only available while a process instance runs")
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind '{kind}' (known: {', '.join(KINDS)})")
    people = [recipients] if isinstance(recipients, str) else list(recipients or [])
    waiting = attached_activity()  # sent from a boundary event's path: about the activity it watches
    about = {"task_id": str(waiting.id)} if waiting is not None else {}
    for person in dict.fromkeys(str(p) for p in people if p):
        queued.append({"recipient": person, "kind": kind, "message": str(message)[:2000], **about})


def notify_new_task(recipients: list[str], message: Msg, task_id: str) -> None:
    """Queue the notice of a task that opened for `recipients` (kind `task`).

    The running command writes it only to those whom nothing else of the same command notified:
    a diagram that tells the person more (a return with its reason, a plan task with its dates)
    speaks instead of this generic notice.
    """
    queued = _QUEUE.get()
    if queued is None:
        return  # no command running (a read of a task): nothing to tell
    for person in dict.fromkeys(p for p in recipients if p):
        queued.append({"recipient": person, "kind": "task", "message": message, "task_id": task_id,
                       "generic": True})


def notes_to_write(queued: list[dict]) -> list[dict]:
    """The notifications a command writes: the generic new-task notice of a person whom the same
    command notified otherwise is dropped, and that other message names the new task instead (the
    notice of a return opens the task to rework)."""
    told = {n["recipient"] for n in queued if not n.get("generic")}
    new_task = {}
    for n in queued:
        if n.get("generic"):
            new_task.setdefault(n["recipient"], n["task_id"])
    return [n if n.get("generic") or n.get("task_id") or n["recipient"] not in new_task
            else {**n, "task_id": new_task[n["recipient"]]}
            for n in queued if not (n.get("generic") and n["recipient"] in told)]


def current_instance() -> str | None:
    """The instance the engine is stepping now, if any."""
    return _INSTANCE.get()


NOTICE_INSERT = ("INSERT INTO notification (instance_id, task_id, recipient, kind, message, code, params, "
                 "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
TEXT_LIMIT = 2000


def notice_row(message: Msg | str) -> tuple[str, str | None, str | None]:
    """(message, code, params) of a notice: a message of the catalogue is stored by its code and
    parameters, and its Chinese text for readers of the row itself; a text a diagram wrote as it is."""
    if isinstance(message, Msg):
        return message.text()[:TEXT_LIMIT], message.code, json.dumps(message.params, ensure_ascii=False)
    return str(message)[:TEXT_LIMIT], None, None


def write_notices(tx, instance_id: str, notes: list[dict], now: datetime) -> None:
    """Queue the notification rows of a command (each {recipient, kind, message, task_id?}, the
    message a Msg or a diagram's text); the one statement every writer of the outbox uses."""
    stamp = tx.stamp(now)
    for note in notes:
        tx.queue(NOTICE_INSERT, (instance_id, note.get("task_id"), note["recipient"], note["kind"],
                                 *notice_row(note["message"]), stamp))


def notice_text(note, locale: str | None = None, zone: str | None = None, diagram=None) -> str:
    """A stored notice (a row, or its dict) in a reader's language and time zone: by its code when
    the engine composed it, else its message as written (a diagram's words, or a row from before codes)."""
    found = note if isinstance(note, dict) else {"code": note.code, "params": note.params, "message": note.message}
    code, params = found.get("code"), found.get("params")
    if not code or code not in MESSAGES:
        return found.get("message") or ""
    params = json.loads(params) if isinstance(params, str) else (params or {})
    return render(code, params, locale, zone, diagram)
