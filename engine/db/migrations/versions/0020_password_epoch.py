"""app_user.password_epoch: counts the passwords a user was given, so a new one (set by the user or
reset by an admin) ends the user's other sessions, while a rehash of the same password does not

Revision ID: 0020
Revises: 0019
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("app_user", sa.Column("password_epoch", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    op.execute("ALTER TABLE app_user DROP COLUMN password_epoch")
