"""The migrations build exactly the schema the models describe (what autogenerate would compare)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.db.migrate import include_object
from engine.db.models import Base


def test_migrated_schema_matches_the_models(ctx):
    with ctx.db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_object, "compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
