"""The inbox queries are served by indexes: SQLite's plan never scans the inbox or candidate tables."""

from __future__ import annotations

import pytest

from engine.bootstrap import bootstrap
from engine.config import EngineConfig
from engine.tasks.inbox import SORTS, InboxFilter, listing, mine_query, offered_query


@pytest.fixture
def sqlite_ctx(tmp_path):
    services = bootstrap(EngineConfig(database_url=f"sqlite:///{tmp_path / 'plans.db'}"))
    yield services
    services.db.dispose()


def _plan(ctx, q) -> list[str]:
    compiled = q.compile(ctx.db.engine, compile_kwargs={"literal_binds": True})
    with ctx.db.engine.connect() as conn:
        return [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")]


@pytest.mark.parametrize("sort", sorted(SORTS))
@pytest.mark.parametrize(("query", "inbox_access"), [
    (mine_query, "SEARCH inbox_task USING INDEX ix_inbox_assignee_due (assignee=?)"),
    # By the offered task ids, not by "unclaimed" (which would range over every unclaimed task).
    (offered_query, "SEARCH inbox_task USING PRIMARY KEY (task_id=?)"),
], ids=["mine", "offered"])
def test_inbox_queries_use_indexes(sqlite_ctx, query, inbox_access, sort):
    q = listing(query(["alice", "bob"]), InboxFilter(process_id="p", text="618"), sort)
    plan = _plan(sqlite_ctx, q)
    assert [step for step in plan if step.startswith("SCAN")] == [], plan
    assert inbox_access in plan
    if query is offered_query:
        assert plan.count("SEARCH inbox_candidate USING COVERING INDEX ix_inbox_candidate_name "
                          "(kind=? AND name=?)") == 2, plan  # the user, and the user's groups
