"""knowledge search: full-text index over knowledge_entry.search_text

Revision ID: 0002
Revises: 0001

knowledge_entry.search_text holds the lesson's title, body and tags already segmented into
lowercase words separated by spaces (engine.knowledge.lessons does the Chinese word segmentation
with jieba). The databases only split that text on spaces, so both index the same words.

SQLite: an FTS5 table with external content (content='knowledge_entry', content_rowid='id').
  - It stores only the index, not a second copy of the text; bm25() works on it as on any FTS5
    table, and the excerpts shown in results are cut from the body in Python, not by snippet().
  - A contentless table (content='') would need the old text to delete a row as well (SQLite
    before 3.43 has no contentless_delete) and cannot be rebuilt; an external content table is
    rebuilt from knowledge_entry at any time with INSERT INTO knowledge_fts(knowledge_fts)
    VALUES ('rebuild'), which this migration also runs to index rows that exist already.
  - A table with its own content would hold every lesson's words twice for no gain.
  - Every row is indexed whatever its status; search joins knowledge_entry and keeps the approved
    ones. Indexing only approved rows would save little and make the triggers depend on status.
  - Triggers keep the index in step with inserts, deletes and changes of search_text. They belong
    to knowledge_entry: a later migration that rebuilds that table on SQLite (batch_alter_table
    copies it into a new table) drops them and must create them again.

PostgreSQL: a GIN index on to_tsvector('simple', search_text). The 'simple' configuration only
lowercases, without stemming or stop words, which suits words segmented beforehand. Queries must
use the very same expression for the planner to pick the index.
"""
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


SQLITE_UPGRADE = [
    """
    CREATE VIRTUAL TABLE knowledge_fts USING fts5(
        search_text, content='knowledge_entry', content_rowid='id', tokenize='unicode61'
    )
    """,
    """
    CREATE TRIGGER knowledge_fts_ai AFTER INSERT ON knowledge_entry BEGIN
        INSERT INTO knowledge_fts(rowid, search_text) VALUES (new.id, new.search_text);
    END
    """,
    """
    CREATE TRIGGER knowledge_fts_ad AFTER DELETE ON knowledge_entry BEGIN
        INSERT INTO knowledge_fts(knowledge_fts, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
    END
    """,
    # A change of status alone (proposed -> approved) leaves the indexed words as they are.
    """
    CREATE TRIGGER knowledge_fts_au AFTER UPDATE OF id, search_text ON knowledge_entry BEGIN
        INSERT INTO knowledge_fts(knowledge_fts, rowid, search_text)
        VALUES ('delete', old.id, old.search_text);
        INSERT INTO knowledge_fts(rowid, search_text) VALUES (new.id, new.search_text);
    END
    """,
    "INSERT INTO knowledge_fts(knowledge_fts) VALUES ('rebuild')",
]

SQLITE_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS knowledge_fts_au",
    "DROP TRIGGER IF EXISTS knowledge_fts_ad",
    "DROP TRIGGER IF EXISTS knowledge_fts_ai",
    "DROP TABLE IF EXISTS knowledge_fts",
]

POSTGRES_UPGRADE = [
    "CREATE INDEX ix_knowledge_entry_search ON knowledge_entry "
    "USING gin (to_tsvector('simple'::regconfig, search_text))",
]

POSTGRES_DOWNGRADE = [
    "DROP INDEX IF EXISTS ix_knowledge_entry_search",
]


def _run(statements: dict[str, list[str]]) -> None:
    dialect = op.get_bind().dialect.name
    if dialect not in statements:
        raise NotImplementedError(f"knowledge search has no full-text index for {dialect}")
    for statement in statements[dialect]:
        op.execute(statement)


def upgrade() -> None:
    _run({"sqlite": SQLITE_UPGRADE, "postgresql": POSTGRES_UPGRADE})


def downgrade() -> None:
    _run({"sqlite": SQLITE_DOWNGRADE, "postgresql": POSTGRES_DOWNGRADE})
