"""What every engine service is handed: the database, the instance store, the clock, scripting and
the product's reactions to its workflows (built by engine.bootstrap)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from engine.config import EngineConfig
from engine.db.database import Database

if TYPE_CHECKING:  # the core's types, for the annotations only: the core itself is built on this context
    from engine.workflow.reactions import Reactions
    from engine.workflow.store import InstanceStore


@dataclass
class Services:
    """What every engine service needs: the database, the instance store, the clock, scripting, reactions."""

    config: EngineConfig
    db: Database
    store: InstanceStore
    script_engine: object
    reactions: Reactions

    def now(self) -> datetime:
        return self.config.clock()

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.config.clock
