"""inbox_task.subject: what one task of a multi-instance step is about (the plan task it executes or
accepts), so inbox rows of the same step tell themselves apart

Revision ID: 0025
Revises: 0024
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows opened before this revision have no subject: they show the step's name alone.
    op.add_column("inbox_task", sa.Column("subject", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbox_task") as batch:
        batch.drop_column("subject")
