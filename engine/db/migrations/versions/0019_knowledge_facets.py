"""knowledge facets: each entry's request type and departments kept with the entry, so the knowledge
page counts its facets and pages its lessons in the database instead of reading every lesson

Revision ID: 0019
Revises: 0018
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The entry's request: by its instance, else by its number alone (as engine.knowledge.lessons).
_EXISTING = (
    "SELECT e.id, COALESCE(r1.request_type, r2.request_type), COALESCE(r1.requester_dept, r2.requester_dept), "
    "COALESCE(r1.lead_dept, r2.lead_dept), COALESCE(r1.involved_depts, r2.involved_depts) "
    "FROM knowledge_entry e LEFT JOIN request_summary r1 ON r1.instance_id = e.instance_id "
    "LEFT JOIN request_summary r2 ON e.instance_id IS NULL AND r2.request_no = e.request_no")


def upgrade() -> None:
    # A plain ADD COLUMN on SQLite too: knowledge_entry is not rebuilt, so its full-text triggers
    # (migration 0002) stay.
    op.add_column("knowledge_entry", sa.Column("request_type", sa.String(length=32), nullable=True))
    op.create_index("ix_knowledge_entry_instance_id", "knowledge_entry", ["instance_id"], unique=False)
    op.create_index("ix_knowledge_entry_browse", "knowledge_entry", ["status", "reviewed_at", "id"], unique=False)
    op.create_index("ix_knowledge_entry_type", "knowledge_entry", ["status", "request_type"], unique=False)
    op.create_table(
        "knowledge_entry_dept",
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["knowledge_entry.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("entry_id", "department_id"),
    )
    op.create_index("ix_knowledge_entry_dept", "knowledge_entry_dept", ["department_id", "entry_id"], unique=False)
    conn = op.get_bind()
    types, depts = [], []
    for entry, request_type, requester, lead, involved in conn.execute(sa.text(_EXISTING)):
        if request_type:
            types.append({"t": request_type, "id": entry})
        for dept in sorted({requester, lead, *(involved or "").split(",")} - {None, ""}):
            depts.append({"e": entry, "d": dept})
    if types:
        conn.execute(sa.text("UPDATE knowledge_entry SET request_type = :t WHERE id = :id"), types)
    if depts:
        conn.execute(sa.text("INSERT INTO knowledge_entry_dept (entry_id, department_id) VALUES (:e, :d)"), depts)


def downgrade() -> None:
    op.drop_index("ix_knowledge_entry_dept", table_name="knowledge_entry_dept")
    op.drop_table("knowledge_entry_dept")
    op.drop_index("ix_knowledge_entry_type", table_name="knowledge_entry")
    op.drop_index("ix_knowledge_entry_browse", table_name="knowledge_entry")
    op.drop_index("ix_knowledge_entry_instance_id", table_name="knowledge_entry")
    # Not a batch rebuild on SQLite, which would drop the full-text triggers of knowledge_entry.
    op.execute("ALTER TABLE knowledge_entry DROP COLUMN request_type")
