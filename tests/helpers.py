"""Test helpers that go through the engine services, never around them."""

from __future__ import annotations

from sqlalchemy import select

from engine.bpmn.runtime import SERIALIZER
from engine.db.models import ProcessInstance
from engine.org import users
from engine.workflow.store import InstanceStore, WorkflowCache


def add_user(ctx, user: str, *groups: str) -> None:
    users.add_user(ctx, user, user, list(groups))


def _state(wf) -> dict:
    dct = SERIALIZER.to_dict(wf)
    dct.pop("spec")
    dct.pop("subprocess_specs")
    # Not serialized, rebuilt on load: the tasks whose events (timers, messages) are awaited.
    dct["awaited_events"] = sorted(str(tid) for tid in wf.event_manager.tasks)
    return dct


def reloaded_state(ctx, instance_id: str) -> dict:
    """The instance as a fresh process would read it from the database (no cache)."""
    fresh = InstanceStore(ctx.store.specs, WorkflowCache(0))
    with ctx.db.transaction(write=False) as tx:
        row = fresh.row(tx, instance_id)
        return _state(fresh.load(tx, row, ctx.script_engine))


def assert_reload_matches(ctx, instance_id: str) -> None:
    """The state kept in memory after a command equals what the database holds."""
    with ctx.db.read() as s:
        version = s.scalar(select(ProcessInstance.lock_version).where(ProcessInstance.id == instance_id))
    cached = ctx.store.cache.take(instance_id, version)
    assert cached is not None, "the last command did not leave its committed workflow in the cache"
    try:
        assert _state(cached) == reloaded_state(ctx, instance_id)
    finally:
        ctx.store.cache.put(instance_id, version, cached)


def said(raised) -> tuple[str, dict]:
    """What the engine said when it refused (an error, or pytest's record of one): the message's code and
    its parameters, as every reader's language renders them."""
    error = getattr(raised, "value", raised)
    return error.message_code, error.params
