"""Wire the engine together from a config: the one place where its parts are built."""

from __future__ import annotations

from engine.bpmn.scripting import create_script_engine
from engine.config import EngineConfig
from engine.context import Services
from engine.db.database import Database
from engine.requests.expressions import script_services
from engine.requests.handlers import reactions
from engine.workflow.store import InstanceStore, SpecCache, WorkflowCache


def bootstrap(config: EngineConfig, migrate: bool = True) -> Services:
    """Build the services for `config`; bring the schema up to date unless told not to."""
    db = Database(config.database_url, echo=config.echo_sql, sqlite_synchronous=config.sqlite_synchronous)
    if migrate:
        db.create_all()
    store = InstanceStore(SpecCache(), WorkflowCache(config.workflow_cache_size))
    # The collaboration's reactions to its workflows, and the functions its expressions may call
    # (they read the organisation and the calendar of these services).
    services = Services(config=config, db=db, store=store, script_engine=None, reactions=reactions())
    services.script_engine = create_script_engine(
        time_limit=config.script_time_limit, services=script_services(services),
        value_limit=config.script_value_max_bytes, memory_limit=config.script_memory_max_bytes)
    return services
