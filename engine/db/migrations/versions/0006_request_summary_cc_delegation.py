"""request summaries for lists, task copies (抄送), delegation (委派) on inbox tasks

Revision ID: 0006
Revises: 0005
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "request_summary",
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("request_no", sa.String(length=32), nullable=False),
        sa.Column("process_id", sa.String(length=255), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("request_type", sa.String(length=32), nullable=True),
        sa.Column("urgency", sa.String(length=16), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=True),
        sa.Column("requester", sa.String(length=64), nullable=False),
        sa.Column("requester_dept", sa.String(length=32), nullable=True),
        sa.Column("lead_dept", sa.String(length=32), nullable=True),
        sa.Column("involved_depts", sa.Text(), nullable=False),
        sa.Column("expected_date", sa.String(length=10), nullable=True),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"]),
        sa.PrimaryKeyConstraint("instance_id"),
        sa.UniqueConstraint("request_no"),
    )
    with op.batch_alter_table("request_summary", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_request_summary_requester"), ["requester"], unique=False)
        batch_op.create_index(batch_op.f("ix_request_summary_requester_dept"), ["requester_dept"], unique=False)
        batch_op.create_index(batch_op.f("ix_request_summary_lead_dept"), ["lead_dept"], unique=False)
        batch_op.create_index(batch_op.f("ix_request_summary_submitted_at"), ["submitted_at"], unique=False)
    op.create_table(
        "task_cc",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("element_id", sa.String(length=255), nullable=True),
        sa.Column("task_name", sa.String(length=255), nullable=False),
        sa.Column("from_user", sa.String(length=64), nullable=False),
        sa.Column("to_user", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("task_cc", schema=None) as batch_op:
        batch_op.create_index("ix_task_cc_to", ["to_user", "created_at"], unique=False)
    # inbox_task is WITHOUT ROWID on SQLite; a plain ADD COLUMN keeps that (no table rebuild).
    op.add_column("inbox_task", sa.Column("delegated_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbox_task", schema=None) as batch_op:
        batch_op.drop_column("delegated_by")
    op.drop_table("task_cc")
    op.drop_table("request_summary")
