"""drop the notification index on (sent_at, created_at): nothing reads it, and every opened task now
writes a notification row, so each index of the table costs every command

Revision ID: 0011
Revises: 0010
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_notification_pending", table_name="notification")


def downgrade() -> None:
    op.create_index("ix_notification_pending", "notification", ["sent_at", "created_at"], unique=False)
