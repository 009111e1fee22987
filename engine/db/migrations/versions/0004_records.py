"""records of a request: progress, comments, attachments, meetings, feedback, plans, action tables,
retrospectives, satisfaction, deliverables, acceptances and conflict positions

Revision ID: 0004
Revises: 0003

Every record table has the same leading columns (the instance, its request number, the task,
the author and the time) and one index that leads with instance_id, for the one way records are
read: all records of one request. progress_update's adds (plan_task_key, id) for the latest update
per plan task; coordination_plan and satisfaction have it as their unique constraint. plan_task
and action_item are read by their parent, through their unique (plan_id, ...) / (table_id, ...).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _record(name: str, *columns: sa.schema.SchemaItem) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("request_no", sa.String(length=255), nullable=True),
        sa.Column("task_id", sa.String(length=36), nullable=True),
        sa.Column("element_id", sa.String(length=255), nullable=True),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        *columns,
        sa.ForeignKeyConstraint(["instance_id"], ["process_instance.id"]),
        sa.PrimaryKeyConstraint("id"),
    )


def _text(name: str) -> sa.Column:
    return sa.Column(name, sa.Text(), nullable=False)


def upgrade() -> None:
    _record("progress_update",
            sa.Column("plan_task_key", sa.String(length=36), nullable=True),
            sa.Column("status", sa.String(length=8), nullable=False),
            _text("work_done"), _text("problems"),
            sa.Column("risk", sa.Boolean(), nullable=False),
            _text("risk_note"),
            sa.Column("expected_finish", sa.Date(), nullable=True))
    op.create_index("ix_progress_update_task", "progress_update", ["instance_id", "plan_task_key", "id"])

    _record("request_comment", _text("body"))
    op.create_index("ix_request_comment_instance", "request_comment", ["instance_id"])

    op.create_table(
        "attachment_blob",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    _record("attachment",
            sa.Column("filename", sa.String(length=255), nullable=False),
            sa.Column("content_type", sa.String(length=127), nullable=False),
            sa.Column("size", sa.BigInteger(), nullable=False),
            sa.Column("sha256", sa.String(length=64), nullable=False),
            sa.Column("storage", sa.String(length=8), nullable=False))
    op.create_index("ix_attachment_instance", "attachment", ["instance_id"])

    _record("meeting",
            sa.Column("starts_at", sa.DateTime(), nullable=False),
            sa.Column("place", sa.String(length=255), nullable=False),
            _text("agenda"), _text("attendees"))
    op.create_index("ix_meeting_instance", "meeting", ["instance_id"])

    _record("meeting_minutes",
            sa.Column("meeting_id", sa.Integer(), nullable=True),
            _text("content"), _text("conclusions"), _text("attendees"), _text("attachment_ids"),
            sa.ForeignKeyConstraint(["meeting_id"], ["meeting.id"]))
    op.create_index("ix_meeting_minutes_instance", "meeting_minutes", ["instance_id"])

    _record("dept_feedback",
            sa.Column("department_id", sa.String(length=32), nullable=True),
            _text("content"),
            sa.Column("suggested_date", sa.Date(), nullable=True),
            _text("resources"), _text("remarks"))
    op.create_index("ix_dept_feedback_instance", "dept_feedback", ["instance_id"])

    _record("coordination_plan",
            sa.Column("version", sa.Integer(), nullable=False),
            sa.Column("lead_department", sa.String(length=32), nullable=True),
            _text("risk_plan"),
            sa.UniqueConstraint("instance_id", "version", name="uq_coordination_plan_version"))
    op.create_table(
        "plan_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("task_key", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("department_id", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("planned_start", sa.Date(), nullable=False),
        sa.Column("planned_end", sa.Date(), nullable=False),
        _text("delivery_standard"),
        sa.ForeignKeyConstraint(["plan_id"], ["coordination_plan.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("plan_id", "task_key", name="uq_plan_task_key"),
    )

    _record("action_table", _text("decision"))
    op.create_index("ix_action_table_instance", "action_table", ["instance_id"])
    op.create_table(
        "action_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("table_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        _text("action"),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["table_id"], ["action_table.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("table_id", "position", name="uq_action_item_position"),
    )

    _record("retrospective", _text("goal"), _text("result"), _text("highlights"), _text("problems"),
            _text("improvements"), _text("departments"))
    op.create_index("ix_retrospective_instance", "retrospective", ["instance_id"])

    _record("satisfaction",
            sa.Column("score", sa.Integer(), nullable=False),
            _text("remark"),
            sa.UniqueConstraint("instance_id", name="uq_satisfaction_instance"))

    _record("deliverable",
            sa.Column("plan_task_key", sa.String(length=36), nullable=True),
            _text("note"), _text("attachment_ids"))
    op.create_index("ix_deliverable_instance", "deliverable", ["instance_id"])

    _record("acceptance",
            sa.Column("plan_task_key", sa.String(length=36), nullable=True),
            sa.Column("decision", sa.String(length=16), nullable=False),
            _text("problem"))
    op.create_index("ix_acceptance_instance", "acceptance", ["instance_id"])

    _record("conflict_position",
            sa.Column("department_id", sa.String(length=32), nullable=True),
            _text("position"), _text("demands"), _text("attachment_ids"))
    op.create_index("ix_conflict_position_instance", "conflict_position", ["instance_id"])


def downgrade() -> None:
    # Children before their parents; a table's indexes go with it.
    for name in ("conflict_position", "acceptance", "deliverable", "satisfaction", "retrospective", "action_item",
                 "action_table", "plan_task", "coordination_plan", "dept_feedback", "meeting_minutes", "meeting",
                 "attachment", "attachment_blob", "request_comment", "progress_update"):
        op.drop_table(name)
