"""notification.code and params: a notice the engine composes is stored as a message of the catalogue,
rendered in each reader's language; notification_delivery.locale: the language an email or a bot
message was rendered in

Revision ID: 0024
Revises: 0023
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows written before this revision have no code: they keep showing their stored message.
    op.add_column("notification", sa.Column("code", sa.String(length=64), nullable=True))
    op.add_column("notification", sa.Column("params", sa.Text(), nullable=True))
    op.add_column("notification_delivery", sa.Column("locale", sa.String(length=16), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE notification_delivery DROP COLUMN locale")
    op.execute("ALTER TABLE notification DROP COLUMN params")
    op.execute("ALTER TABLE notification DROP COLUMN code")
