"""Versions of the stored instance state and the migrations that bring an older one up to date.

Every instance row records two versions: ours (`state_version`, the layout of the instance meta,
the subprocess metas and the task bodies as engine/workflow/store.py writes them) and SpiffWorkflow's
serializer version (`serializer_version`), since the task bodies are that serializer's output.
A reader (the store's load, the audit replay) passes the stored dicts through `upgrade` before it
deserializes anything: each migration turns the layout of version N into that of N+1, in order.
State newer than this code, or written by a serializer version this code cannot read, is refused
with StateVersionUnsupported rather than misread.

An upgraded instance is rewritten whole by its next save (every task row and subprocess meta, not
only the changed ones) and stamped with the current version; so the version on a row always
describes all of its rows, and a migration can be dropped once no row of that version is left.
Instances only read meanwhile keep their old rows and are upgraded again on every read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.bpmn.runtime import SERIALIZER
from engine.errors import StateVersionUnsupported
from engine.messages import Msg

# The serializer version every body written by this code carries; its own migrations
# (SpiffWorkflow.bpmn.serializer.migration) work on whole-workflow dicts with their specs, which
# this store keeps apart, so a body from another serializer version is refused until a migration
# here reassembles and converts it.
SERIALIZER_VERSION: str = SERIALIZER.VERSION


@dataclass
class StoredState:
    """One instance's stored dicts: the top meta, each subprocess's meta, each task's body."""

    meta: dict
    subprocesses: dict[str, dict] = field(default_factory=dict)  # by workflow id
    tasks: dict[Any, dict] = field(default_factory=dict)  # by any key the reader chooses


Migration = Callable[[StoredState], None]


def _metas(state: StoredState) -> list[dict]:
    return [state.meta, *state.subprocesses.values()]


def _complete_metas(state: StoredState) -> None:
    """Version 1 to 2: metas written before `completed` and `correlations` were stored lack them
    (and an untouched workflow lacked `data`); from 2 on every meta has them, so readers need not
    guess defaults and the replay compares like with like."""
    for meta in _metas(state):
        meta.setdefault("completed", False)
        meta.setdefault("correlations", {})
        meta.setdefault("data", {})
    state.meta.setdefault("bpmn_events", [])


class StateVersions:
    """A registry of migrations by the version they upgrade from; the current version follows the last."""

    def __init__(self, migrations: Mapping[int, Migration]):
        self.migrations = dict(migrations)
        if sorted(self.migrations) != list(range(1, len(self.migrations) + 1)):
            raise ValueError("state migrations must upgrade from 1, 2, 3 ... without a gap")
        self.current = len(self.migrations) + 1

    def upgrade(self, state: StoredState, version: int, serializer_version: str, what: Msg) -> bool:
        """Bring `state` (stored at `version`) to the current layout in place; True if it changed.

        `what` names the instance in the refusal.
        """
        if version > self.current:
            raise StateVersionUnsupported("state.too_new", what=what, version=version, current=self.current)
        if serializer_version != SERIALIZER_VERSION:
            raise StateVersionUnsupported("state.other_serializer", what=what, version=serializer_version,
                                          current=SERIALIZER_VERSION)
        for each in range(version, self.current):
            self.migrations[each](state)
        return version != self.current


MIGRATIONS: dict[int, Migration] = {1: _complete_metas}
VERSIONS = StateVersions(MIGRATIONS)
