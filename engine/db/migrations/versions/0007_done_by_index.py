"""a partial index for "done by me": completions by actor

Revision ID: 0007
Revises: 0006
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHERE = sa.text("event_type = 'task_completed'")


def upgrade() -> None:
    op.create_index("ix_audit_done_by", "audit_event", ["actor", "id"], unique=False, sqlite_where=WHERE,
                    postgresql_where=WHERE)


def downgrade() -> None:
    op.drop_index("ix_audit_done_by", table_name="audit_event", sqlite_where=WHERE, postgresql_where=WHERE)
