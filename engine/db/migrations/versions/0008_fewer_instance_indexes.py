"""drop process_instance indexes no query uses (lists go through request_summary)

Revision ID: 0008
Revises: 0007
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNUSED = {"ix_process_instance_business_key": "business_key", "ix_process_instance_initiator": "initiator",
          "ix_process_instance_process_id": "process_id", "ix_process_instance_process_version_id": "process_version_id",
          "ix_process_instance_status": "status"}


def upgrade() -> None:
    for name in UNUSED:
        op.drop_index(name, table_name="process_instance")


def downgrade() -> None:
    for name, column in UNUSED.items():
        op.create_index(name, "process_instance", [column], unique=False)
