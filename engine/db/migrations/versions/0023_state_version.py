"""process_instance.state_version and serializer_version: the format of each instance's stored state

Revision ID: 0023
Revises: 0022
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows stored before this revision are format 1, written by SpiffWorkflow 3.2's serializer 1.5:
    # the state migrations upgrade them when they are read.
    op.add_column("process_instance", sa.Column("state_version", sa.Integer(), server_default="1", nullable=False))
    op.add_column("process_instance", sa.Column("serializer_version", sa.String(length=16), server_default="1.5",
                                                nullable=False))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+): a batch copy of process_instance would trip the foreign
    # keys of the tables that refer to it.
    op.execute("ALTER TABLE process_instance DROP COLUMN serializer_version")
    op.execute("ALTER TABLE process_instance DROP COLUMN state_version")
