"""inbox_task.timeout_at: when a step's timeout action (超时处理) falls due for the task, indexed
for the sweep that runs it

Revision ID: 0027
Revises: 0026
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Tasks opened before this revision have no timeout: their steps had no such setting.
    op.add_column("inbox_task", sa.Column("timeout_at", sa.DateTime(), nullable=True))  # naive UTC, as every stamp
    op.create_index("ix_inbox_task_timeout_at", "inbox_task", ["timeout_at"])


def downgrade() -> None:
    op.drop_index("ix_inbox_task_timeout_at", table_name="inbox_task")
    with op.batch_alter_table("inbox_task") as batch:
        batch.drop_column("timeout_at")
