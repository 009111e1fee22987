"""The dashboard's stored red warnings follow the plan deadline at the end of the working day: the
requests with plan tasks are marked for the next analytics refresh to derive again (as when their
chain moves)

Revision ID: 0026
Revises: 0025
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("UPDATE analytics_instance SET seq = -1 WHERE instance_id IN "
               "(SELECT instance_id FROM analytics_plan_task)")


def downgrade() -> None:
    pass  # derived data: the next refresh after a change derives it again either way
