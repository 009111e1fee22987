"""What every engine service is handed: the database, the instance store, the clock, scripting and
the product's reactions to its workflows (built by engine.bootstrap)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from engine.config import EngineConfig
from engine.db.database import Database
from engine.workflow.reactions import Reactions
from engine.workflow.store import InstanceStore


@dataclass
class Services:
    """What every engine service needs: the database, the instance store, the clock, scripting, reactions."""

    config: EngineConfig
    db: Database
    store: InstanceStore
    script_engine: object
    reactions: Reactions = field(default_factory=Reactions)

    def now(self) -> datetime:
        return self.config.clock()

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.config.clock
