"""The migrations build exactly the schema the models describe (what autogenerate would compare), and a
revision that changes what rows mean keeps the rows from before it readable."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from engine.db.database import Database
from engine.db.migrate import alembic_config, include_object, upgrade
from engine.db.models import Base
from engine.workflow.notices import notice_text


def test_migrated_schema_matches_the_models(ctx):
    with ctx.db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_object, "compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def _columns(db: Database, table: str) -> set[str]:
    with db.engine.connect() as conn:
        return {c["name"] for c in inspect(conn).get_columns(table)}


def test_notices_from_before_codes_keep_their_message_and_0024_goes_down_and_up(db_url):
    """Revision 0024 gives a notice its code and parameters (and a delivery its language); a row written
    before it has neither and is shown as it was stored, in every language."""
    db = Database(db_url)
    try:
        upgrade(db, "0023")
        assert "code" not in _columns(db, "notification")
        with db.engine.begin() as conn:  # plain SQL: the table as revision 0023 made it
            conn.execute(text("INSERT INTO notification (id, recipient, kind, message, created_at) "
                              "VALUES (1, 'xiaowang', 'info', '需求 XMBG-202611001 已受理', CURRENT_TIMESTAMP)"))
        upgrade(db)
        assert {"code", "params"} <= _columns(db, "notification")
        assert "locale" in _columns(db, "notification_delivery")
        with db.engine.connect() as conn:
            old = dict(conn.execute(text("SELECT code, params, message FROM notification WHERE id = 1")).mappings()
                       .one())
        assert (old["code"], old["params"]) == (None, None)
        assert notice_text(old) == notice_text(old, "en") == "需求 XMBG-202611001 已受理"

        cfg = alembic_config(db.url)
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0023")
        assert "code" not in _columns(db, "notification") and "locale" not in _columns(db, "notification_delivery")
        upgrade(db)
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT message FROM notification WHERE id = 1")).scalar() == \
                "需求 XMBG-202611001 已受理"
    finally:
        db.dispose()


def test_0026_marks_the_requests_with_plan_tasks_for_the_next_analytics_refresh(db_url):
    """Their stored red-from moments were counted from midnight; the next refresh derives them again
    from the end of the plan date's working day. A request without a plan is left as it is."""
    db = Database(db_url)
    try:
        upgrade(db, "0025")
        with db.engine.begin() as conn:  # plain SQL: the tables as revision 0025 left them
            for iid in ("with-plan", "no-plan"):
                conn.execute(text("INSERT INTO analytics_instance (instance_id, seq, step, status) "
                                  "VALUES (:i, 40, 4, 'running')"), {"i": iid})
            conn.execute(text(
                "INSERT INTO analytics_plan_task (instance_id, task_key, request_no, request_title, position, title, "
                "department_id, owner, planned_end, status, risk) VALUES ('with-plan', 'T1', 'XMBG-202611001', "
                "'双十一', 0, '物料设计', 'MKT', 'songyu', '2026-11-20', '进行中', false)"))
        upgrade(db)
        with db.engine.connect() as conn:
            seqs = dict(conn.execute(text("SELECT instance_id, seq FROM analytics_instance")).all())
        assert seqs == {"with-plan": -1, "no-plan": 40}
    finally:
        db.dispose()


def test_0027_gives_inbox_rows_a_timeout_indexed_for_the_sweep_and_goes_down_and_up(db_url):
    """Rows opened before the revision have no timeout (their steps had no such setting): the column
    is nullable and nothing is filled in."""
    db = Database(db_url)
    try:
        upgrade(db, "0026")
        assert "timeout_at" not in _columns(db, "inbox_task")
        upgrade(db)
        column = next(c for c in inspect(db.engine).get_columns("inbox_task") if c["name"] == "timeout_at")
        assert column["nullable"]
        assert "ix_inbox_task_timeout_at" in {i["name"] for i in inspect(db.engine).get_indexes("inbox_task")}
        cfg = alembic_config(db.url)
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0026")
        assert "timeout_at" not in _columns(db, "inbox_task")
        upgrade(db)
        assert "timeout_at" in _columns(db, "inbox_task")
    finally:
        db.dispose()
