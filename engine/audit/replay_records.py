"""What a replay reads: each instance's recorded events, and its stored state brought up to the
current format (engine.workflow.state_versions)."""

from __future__ import annotations

import json

from engine.audit.replay_model import Event
from engine.db.tx import Tx
from engine.messages import Msg
from engine.workflow.state_versions import StateVersions, StoredState

# ---------------------------------------------------------------------------------- reading
INSTANCE_ROWS = ("SELECT id, business_key, process_version_id, created_at, status, error, meta, state_version, "
                 "serializer_version FROM process_instance")


def recorded_events(tx: Tx, ids: list[str]) -> dict[str, list[Event]]:
    """The audit events of each instance, in chain order."""
    found: dict[str, list[Event]] = {i: [] for i in ids}
    for iid, seq, kind, actor, at, element, task, data in tx.all(
            "SELECT instance_id, seq, event_type, actor, at, element_id, task_id, data FROM audit_event "
            f"WHERE instance_id IN ({tx.in_list(ids)}) ORDER BY instance_id, seq", ids):
        found[iid].append(Event(seq, kind, actor, Tx.when(at), element, task, json.loads(data)))
    return found


def stored_states(tx: Tx, rows: list[tuple], versions: StateVersions) -> dict[str, dict]:
    """The stored state of each instance, upgraded to the current layout as the store loads it."""
    ids = [r[0] for r in rows]
    states = {r[0]: StoredState(json.loads(r[6])) for r in rows}
    for iid, wf_id, meta in tx.all("SELECT instance_id, workflow_id, meta FROM instance_subprocess "
                                   f"WHERE instance_id IN ({tx.in_list(ids)})", ids):
        states[iid].subprocesses[wf_id] = json.loads(meta)
    for iid, task_id, body in tx.all("SELECT instance_id, task_id, body FROM instance_task "
                                     f"WHERE instance_id IN ({tx.in_list(ids)})", ids):
        states[iid].tasks[task_id] = json.loads(body)
    found = {}
    for iid, _, _, _, status, error, _, version, serializer_version in rows:
        state = states[iid]
        versions.upgrade(state, version, serializer_version, Msg("what.instance_named", id=iid))
        found[iid] = {"status": status, "error": json.loads(error) if error else None,
                      "metas": {"": state.meta, **state.subprocesses}, "tasks": state.tasks}
    return found
