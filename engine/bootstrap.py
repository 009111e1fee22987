"""Wire the engine together from a config: the one place where its parts are built."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from engine.config import EngineConfig
from engine.db.database import Database
from engine.workflow.reactions import Reactions
from engine.workflow.scripting import create_script_engine
from engine.workflow.store import InstanceStore, SpecCache, WorkflowCache


@dataclass
class Services:
    """What every engine service needs: the database, the instance store, the clock, scripting."""

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


def bootstrap(config: EngineConfig, migrate: bool = True) -> Services:
    """Build the services for `config`; bring the schema up to date unless told not to."""
    db = Database(config.database_url, echo=config.echo_sql, sqlite_synchronous=config.sqlite_synchronous)
    if migrate:
        db.create_all()
    store = InstanceStore(SpecCache(), WorkflowCache(config.workflow_cache_size))
    services = Services(config=config, db=db, store=store, script_engine=None)
    # The functions expressions may call read the organisation and the calendar of these services.
    from engine.requests.expressions import script_services
    from engine.requests.handlers import reactions

    services.reactions = reactions()

    services.script_engine = create_script_engine(
        time_limit=config.script_time_limit, services=script_services(services),
        value_limit=config.script_value_max_bytes, memory_limit=config.script_memory_max_bytes)
    return services
