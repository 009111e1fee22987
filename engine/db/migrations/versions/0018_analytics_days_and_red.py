"""analytics per-day summaries (task times with their sorted seconds, SLA counts, flows per
department) and the current plans' tasks with the moment each turns red, so the dashboard reads
a period's days and the red warnings of now instead of every task

Revision ID: 0018
Revises: 0017
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analytics_task_day",
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("process_version_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("element_id", sa.String(length=255), nullable=False),
        sa.Column("tasks", sa.Integer(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("seconds", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "process_version_id", "day", "element_id"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "analytics_sla_day",
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("due", sa.Integer(), nullable=False),
        sa.Column("on_time", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "day", "urgency"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "analytics_flow_dept_day",
        sa.Column("department_id", sa.String(length=32), nullable=False),
        sa.Column("process_version_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("flow_id", sa.String(length=255), nullable=False),
        sa.Column("taken", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("department_id", "process_version_id", "day", "flow_id"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "analytics_plan_task",
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("task_key", sa.String(length=36), nullable=False),
        sa.Column("request_no", sa.String(length=32), nullable=False),
        sa.Column("request_title", sa.String(length=255), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("department_id", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("planned_end", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("risk", sa.Boolean(), nullable=False),
        sa.Column("latest_at", sa.DateTime(), nullable=True),
        sa.Column("red_from", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("instance_id", "task_key"),
    )
    op.create_index("ix_analytics_plan_task_red", "analytics_plan_task", ["red_from"], unique=False)
    # Derived state only: emptied, the next refresh reads every chain again and fills the new tables
    # with the old ones.
    for table in ("analytics_instance", "analytics_task_span", "analytics_step_span", "analytics_flow",
                  "analytics_flow_day", "analytics_request_dept"):
        op.execute(f"DELETE FROM {table}")


def downgrade() -> None:
    op.drop_index("ix_analytics_plan_task_red", table_name="analytics_plan_task")
    op.drop_table("analytics_plan_task")
    op.drop_table("analytics_flow_dept_day")
    op.drop_table("analytics_sla_day")
    op.drop_table("analytics_task_day")
