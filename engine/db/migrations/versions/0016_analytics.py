"""analytics tables derived from the audit log outside the command path: task spans, step spans,
flows taken per day, the departments of each request, and how far each chain has been read

Revision ID: 0016
Revises: 0015
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analytics_instance",
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("department_id", sa.String(length=32), nullable=True),
        sa.Column("rated_at", sa.DateTime(), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("instance_id"),
    )
    op.create_index("ix_analytics_instance_open", "analytics_instance", ["status", "department_id"], unique=False)
    op.create_index("ix_analytics_instance_rated", "analytics_instance", ["rated_at", "score", "instance_id"],
                    unique=False)
    op.create_table(
        "analytics_task_span",
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("process_version_id", sa.Integer(), nullable=False),
        sa.Column("element_id", sa.String(length=255), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("urgency", sa.String(length=16), nullable=True),
        sa.Column("department_id", sa.String(length=32), nullable=True),
        sa.Column("ready_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("instance_id", "task_id"),
    )
    op.create_index("ix_analytics_span_version", "analytics_task_span",
                    ["process_version_id", "ended_at", "outcome", "element_id", "seconds", "instance_id"], unique=False)
    op.create_index("ix_analytics_span_ended", "analytics_task_span",
                    ["ended_at", "outcome", "urgency", "due_at", "instance_id"], unique=False)
    op.create_index("ix_analytics_span_element", "analytics_task_span",
                    ["element_id", "ended_at", "outcome", "department_id", "seconds", "instance_id"], unique=False)
    op.create_table(
        "analytics_step_span",
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("seconds", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("instance_id", "step"),
    )
    op.create_index("ix_analytics_step_ended", "analytics_step_span", ["ended_at", "step", "seconds", "instance_id"],
                    unique=False)
    op.create_table(
        "analytics_flow",
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("flow_id", sa.String(length=255), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("process_version_id", sa.Integer(), nullable=False),
        sa.Column("taken", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("instance_id", "flow_id", "day"),
    )
    op.create_index("ix_analytics_flow_version", "analytics_flow",
                    ["process_version_id", "day", "flow_id", "taken", "instance_id"], unique=False)
    op.create_table(
        "analytics_flow_day",
        sa.Column("process_version_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("flow_id", sa.String(length=255), nullable=False),
        sa.Column("taken", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("process_version_id", "day", "flow_id"),
    )
    op.create_table(
        "analytics_request_dept",
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("department_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("instance_id", "department_id"),
    )
    op.create_index("ix_analytics_request_dept", "analytics_request_dept", ["department_id", "instance_id"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_analytics_request_dept", table_name="analytics_request_dept")
    op.drop_table("analytics_request_dept")
    op.drop_table("analytics_flow_day")
    op.drop_index("ix_analytics_flow_version", table_name="analytics_flow")
    op.drop_table("analytics_flow")
    op.drop_index("ix_analytics_step_ended", table_name="analytics_step_span")
    op.drop_table("analytics_step_span")
    op.drop_index("ix_analytics_span_element", table_name="analytics_task_span")
    op.drop_index("ix_analytics_span_ended", table_name="analytics_task_span")
    op.drop_index("ix_analytics_span_version", table_name="analytics_task_span")
    op.drop_table("analytics_task_span")
    op.drop_index("ix_analytics_instance_rated", table_name="analytics_instance")
    op.drop_index("ix_analytics_instance_open", table_name="analytics_instance")
    op.drop_table("analytics_instance")
