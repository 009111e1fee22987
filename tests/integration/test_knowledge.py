"""The knowledge base: lessons are proposed, approved by a platform admin, then found by their words."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select, text

from engine.db.database import Database
from engine.db.migrate import alembic_config, upgrade
from engine.db.models import KnowledgeEntry
from engine.errors import InvalidInput, NotFound, PermissionDenied
from engine.knowledge import lessons as knowledge
from engine.knowledge import words as knowledge_words
from engine.knowledge.lessons import list_entries, propose_lesson, review_lesson, search
from tests.helpers import add_user

ROOT = Path(__file__).resolve().parents[2]

SHARING = "建立数据共享机制，要求产品部每月更新用户画像数据"


@pytest.fixture
def people(ctx):
    add_user(ctx, "admin", "platform_admins")
    add_user(ctx, "alice", "marketing")
    return ctx


def _approved(ctx, title: str, body: str, **kwargs) -> int:
    entry_id = propose_lesson(ctx, title=title, body=body, user=kwargs.pop("user", "alice"), **kwargs)
    review_lesson(ctx, entry_id, "admin", True)
    return entry_id


def _ids(ctx, query: str, **kwargs) -> list[int]:
    return [item["id"] for item in search(ctx, query, **kwargs)["items"]]


def _status(ctx, entry_id: int) -> dict:
    return next(e for e in list_entries(ctx) if e["id"] == entry_id)


# --- finding Chinese lessons --------------------------------------------------------------------

def test_a_chinese_lesson_is_found_by_its_words_and_tags(people):
    ctx = people
    entry_id = _approved(ctx, "用户数据要按月同步", SHARING, tags=["隐私合规", "CRM"], request_no="XMBG-202609001")
    budget = _approved(ctx, "预算审批提前两周", "大促活动的预算审批需要提前两周提交财务部")

    for query in ("数据共享", "用户画像", "产品部", "隐私合规", "合规", "crm"):
        result = search(ctx, query)
        assert [i["id"] for i in result["items"]] == [entry_id], query
        assert (result["total"], result["match"]) == (1, "all"), query

    item = search(ctx, "用户画像")["items"][0]
    assert item["title"] == "用户数据要按月同步"
    assert item["tags"] == ["隐私合规", "CRM"]
    assert item["request_no"] == "XMBG-202609001"
    assert "用户画像" in item["excerpt"]
    assert _ids(ctx, "预算") == [budget]


def test_the_stored_words_are_segmented_and_lowercase(people):
    ctx = people
    entry_id = propose_lesson(ctx, title="CRM 导出", body=SHARING, tags="Data,隐私合规", user="alice")
    with ctx.db.read() as s:
        words = s.scalar(select(KnowledgeEntry.search_text).where(KnowledgeEntry.id == entry_id)).split(" ")
    assert {"crm", "导出", "数据", "共享", "数据共享", "用户", "画像", "data", "隐私", "合规"} <= set(words)
    assert all(w == w.lower() and w.strip("，。,") == w for w in words)
    assert _status(ctx, entry_id)["tags"] == ["Data", "隐私合规"]


def test_a_lesson_is_searchable_only_once_approved(people):
    ctx = people
    kept = propose_lesson(ctx, title="数据共享", body=SHARING, user="alice")
    dropped = propose_lesson(ctx, title="数据共享的另一种做法", body="用户画像数据由市场部维护", user="alice")
    assert search(ctx, "用户画像")["total"] == 0

    review_lesson(ctx, dropped, "admin", False, note="与第一条重复")
    assert search(ctx, "用户画像")["total"] == 0
    assert _status(ctx, dropped)["status"] == "rejected"
    assert _status(ctx, dropped)["review_note"] == "与第一条重复"

    review_lesson(ctx, kept, "admin", True)
    assert _ids(ctx, "用户画像") == [kept]
    assert [e["id"] for e in list_entries(ctx, "approved")] == [kept]
    assert [e["id"] for e in list_entries(ctx, "rejected")] == [dropped]
    assert list_entries(ctx, "proposed") == []


# --- review -------------------------------------------------------------------------------------

def test_only_a_platform_admin_reviews(people, clock):
    ctx = people
    entry_id = propose_lesson(ctx, title="数据共享", body=SHARING, user="alice")
    before = _status(ctx, entry_id)

    with pytest.raises(PermissionDenied):
        review_lesson(ctx, entry_id, "alice", True)
    with pytest.raises(PermissionDenied):
        review_lesson(ctx, entry_id, "nobody", True)
    assert _status(ctx, entry_id) == before
    assert before["status"] == "proposed" and before["reviewed_by"] is None
    assert search(ctx, "数据共享")["total"] == 0

    clock.advance(hours=2)
    reviewed = review_lesson(ctx, entry_id, "admin", True, note="好经验")
    assert (reviewed["status"], reviewed["reviewed_by"], reviewed["review_note"]) == ("approved", "admin", "好经验")
    assert reviewed["reviewed_at"] == clock().isoformat()
    assert reviewed["proposed_at"] == before["proposed_at"]


def test_review_needs_a_proposed_entry(people):
    ctx = people
    entry_id = propose_lesson(ctx, title="数据共享", body=SHARING, user="alice")
    review_lesson(ctx, entry_id, "admin", False)
    with pytest.raises(InvalidInput):
        review_lesson(ctx, entry_id, "admin", True)  # a rejection is not overturned
    assert _status(ctx, entry_id)["status"] == "rejected"
    with pytest.raises(NotFound):
        review_lesson(ctx, entry_id + 1000, "admin", True)
    with pytest.raises(PermissionDenied):
        review_lesson(ctx, entry_id + 1000, "alice", True)  # no hint whether the entry exists


# --- validation ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("changes", "field"), [
    ({"title": ""}, "title"),
    ({"title": "  \n "}, "title"),
    ({"body": ""}, "body"),
    ({"title": "长" * (knowledge.TITLE_MAX + 1)}, "title"),
    ({"body": "长" * (knowledge.BODY_MAX + 1)}, "body"),
    ({"tags": ["标签" * knowledge.TAG_MAX]}, "tags"),
    ({"tags": [f"t{i}" for i in range(knowledge.TAGS_MAX + 1)]}, "tags"),
    ({"request_no": "X" * 33}, "request_no"),
    ({"user": ""}, "user"),
], ids=["empty-title", "blank-title", "empty-body", "long-title", "long-body", "long-tag", "many-tags",
        "long-request-no", "no-user"])
def test_invalid_proposals_are_refused(people, changes, field):
    ctx = people
    args = {"title": "数据共享", "body": SHARING, "user": "alice", **changes}
    with pytest.raises(InvalidInput, match=field):
        propose_lesson(ctx, **args)
    assert list_entries(ctx) == []


def test_invalid_search_arguments_are_refused(people):
    ctx = people
    for query in ("", "   "):
        with pytest.raises(InvalidInput, match="query"):
            search(ctx, query)
    with pytest.raises(InvalidInput, match="query"):
        search(ctx, "数据" * knowledge.QUERY_MAX)
    for limit, offset in ((0, 0), (knowledge.PAGE_MAX + 1, 0), (10, -1)):
        with pytest.raises(InvalidInput):
            search(ctx, "数据", limit=limit, offset=offset)
    with pytest.raises(InvalidInput, match="status"):
        list_entries(ctx, "deleted")


# --- ranking, AND/OR, paging --------------------------------------------------------------------

def test_the_better_match_comes_first(people):
    ctx = people
    once = _approved(ctx, "季度复盘", "本季度的复盘涉及预算、排期、验收、上线和用户画像等多个方面，其中排期问题最突出")
    often = _approved(ctx, "用户画像", "用户画像要每月更新，用户画像的口径由产品部统一")
    assert _ids(ctx, "用户画像") == [often, once]


def test_all_words_first_then_any_word(people):
    ctx = people
    sharing = _approved(ctx, "数据共享", SHARING)
    budget = _approved(ctx, "预算审批", "大促活动的预算审批需要提前两周提交财务部")
    both = _approved(ctx, "数据共享与预算", "数据共享平台的预算审批由财务部牵头")

    result = search(ctx, "数据共享 预算审批")
    assert (result["match"], result["total"], [i["id"] for i in result["items"]]) == ("all", 1, [both])

    result = search(ctx, "用户画像 财务部")  # no lesson has both
    assert (result["match"], result["total"]) == ("any", 3)
    assert set(i["id"] for i in result["items"]) == {sharing, budget, both}

    result = search(ctx, "用户画像 星际旅行")  # the second word is nowhere: the first one still finds
    assert (result["match"], [i["id"] for i in result["items"]]) == ("any", [sharing])
    assert search(ctx, "星际旅行")["total"] == 0


def test_paging_and_total(people, clock):
    ctx = people
    ids = []
    for n in range(25):
        clock.advance(minutes=1)
        ids.append(_approved(ctx, f"复盘第{n}条", f"第{n}次复盘：验收标准要提前写清楚"))
    _approved(ctx, "无关", "预算审批需要提前提交")

    pages = [search(ctx, "验收标准", limit=10, offset=offset) for offset in (0, 10, 20, 30)]
    assert [p["total"] for p in pages] == [25] * 4
    assert [len(p["items"]) for p in pages] == [10, 10, 5, 0]
    found = [i["id"] for p in pages for i in p["items"]]
    assert sorted(found) == sorted(ids)
    assert found == _ids(ctx, "验收标准", limit=knowledge.PAGE_MAX)  # one order, whatever the page size


def test_english_words_match_case_insensitively(people):
    ctx = people
    entry_id = _approved(ctx, "Export the CRM leads weekly", "Marketing exports CRM Leads via the Export API.",
                         tags=["DataOps"])
    for query in ("crm", "CRM", "Crm LEADS", "export api", "ＣＲＭ", "dataops", "DATAOPS"):
        assert _ids(ctx, query) == [entry_id], query


# --- hostile queries ----------------------------------------------------------------------------

HOSTILE = ['"', '""', "'", "AND", "OR", "NOT", "*", "数据*", "NEAR(", "NEAR(数据 共享)", "')--", "'; DROP TABLE x; --",
           ":", "title:数据", "search_text:数据", "-数据", "^数据", "数据 AND", "OR 数据", "(((", ")", "{a b}",
           "a & b | !c", "'a' <-> 'b'", "数据 <2> 共享", "\\", "%", "_", "?", "数据\" OR \"1", "x:*", "！？。，",
           "\x00", "😀", "١٢٣"]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_are_words_or_nothing(people, query):
    ctx = people
    entry_id = _approved(ctx, "数据共享", SHARING)
    result = search(ctx, query)
    assert result["total"] == len(result["items"])
    assert all(w.isalnum() for w in result["words"])
    if result["words"] and {"数据", "共享"} & set(result["words"]):
        assert entry_id in [i["id"] for i in result["items"]]


def test_punctuation_only_finds_nothing(people):
    ctx = people
    _approved(ctx, "数据共享", SHARING)
    for query in ("！？。", "')--", "***", "AND", "的"):
        result = search(ctx, query)
        assert (result["words"], result["match"], result["total"], result["items"]) == ([], "none", 0, []), query


def test_long_queries(people):
    ctx = people
    entry_id = _approved(ctx, "数据共享", SHARING)
    # As long as allowed, repeating itself, with "words" too long to be words (ignored).
    longest = (("数据共享，用户画像 " + "x" * (knowledge_words.WORD_MAX + 1) + " ") * 20)[:knowledge.QUERY_MAX]
    assert _ids(ctx, longest) == [entry_id]
    # Words beyond the first QUERY_WORDS_MAX distinct ones are not searched for.
    result = search(ctx, " ".join(f"w{i}" for i in range(knowledge.QUERY_WORDS_MAX)) + " 数据")
    assert len(result["words"]) == knowledge.QUERY_WORDS_MAX and "数据" not in result["words"]
    assert result["total"] == 0
    with pytest.raises(InvalidInput, match="query"):
        search(ctx, "数" * (knowledge.QUERY_MAX + 1))
    with pytest.raises(InvalidInput, match="query"):
        search(ctx, "'" * 100_000)


# --- the index itself ---------------------------------------------------------------------------

def test_sqlite_index_follows_inserts_updates_and_deletes(people):
    ctx = people
    if not ctx.db.is_sqlite:
        pytest.skip("FTS5 is SQLite's")
    entry_id = _approved(ctx, "数据共享", SHARING)
    gone = _approved(ctx, "预算审批", "大促活动的预算审批需要提前两周提交财务部")
    with ctx.db.write() as s:
        s.get(KnowledgeEntry, entry_id).search_text = "预算审批 预算 审批"
        s.delete(s.get(KnowledgeEntry, gone))
    assert _ids(ctx, "数据共享") == []
    assert _ids(ctx, "预算审批") == [entry_id]
    with ctx.db.read() as s:  # the index agrees with knowledge_entry row for row, word for word
        s.execute(text("INSERT INTO knowledge_fts(knowledge_fts, rank) VALUES ('integrity-check', 1)"))


def test_postgres_search_uses_the_gin_index(people):
    ctx = people
    if not ctx.db.is_postgres:
        pytest.skip("the GIN index is PostgreSQL's")
    _approved(ctx, "数据共享", SHARING)
    with ctx.db.write() as s:  # many approved lessons, few with the word: the index is worth it
        s.execute(text("INSERT INTO knowledge_entry (title, body, tags, status, proposed_by, proposed_at, "
                       "search_text) SELECT 'l' || n, 'b', '', 'approved', 'alice', now(), 'lesson' || n "
                       "FROM generate_series(1, 5000) AS n"))
        s.execute(text("ANALYZE knowledge_entry"))
    with ctx.db.transaction(write=False) as tx:
        plan = "\n".join(r[0] for r in tx.all("EXPLAIN " + knowledge._PG_PAGE.format(cond=""), ("'数据'", 10, 0)))
    assert "ix_knowledge_entry_search" in plan, plan
    assert _ids(ctx, "数据共享") != []


def test_reindex_restores_the_words(people):
    ctx = people
    entry_id = _approved(ctx, "数据共享", SHARING, tags=["隐私合规"])
    other = _approved(ctx, "预算审批", "大促活动的预算审批需要提前两周提交财务部")
    with ctx.db.write() as s:  # as if written before the words were kept
        s.get(KnowledgeEntry, entry_id).search_text = ""
    assert _ids(ctx, "隐私合规") == []
    assert knowledge.reindex(ctx) == 1
    assert _ids(ctx, "隐私合规") == [entry_id]
    assert _ids(ctx, "预算审批") == [other]
    assert knowledge.reindex(ctx) == 0


def _indexed(db: Database, word: str) -> list[int] | None:
    """The ids the full-text index finds for one word; None when there is no index."""
    with db.engine.connect() as conn:
        if db.is_sqlite:
            if not conn.scalar(text("SELECT count(*) FROM sqlite_master WHERE name = 'knowledge_fts'")):
                return None
            sql = "SELECT rowid FROM knowledge_fts WHERE knowledge_fts MATCH :q ORDER BY rowid"
            return list(conn.scalars(text(sql), {"q": f'"{word}"'}))
        if conn.scalar(text("SELECT to_regclass('ix_knowledge_entry_search')")) is None:
            return None
        sql = ("SELECT id FROM knowledge_entry WHERE to_tsvector('simple'::regconfig, search_text) "
               "@@ to_tsquery('simple'::regconfig, :q) ORDER BY id")
        return list(conn.scalars(text(sql), {"q": f"'{word}'"}))


def _insert_lesson(db: Database, entry_id: int, body: str) -> None:
    # Plain SQL: the table as revision 0001 made it, whatever later revisions add to the model.
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO knowledge_entry (id, title, body, tags, status, proposed_by, proposed_at, "
                          "search_text) VALUES (:id, 't', :body, '', 'approved', 'alice', CURRENT_TIMESTAMP, "
                          ":words)"), {"id": entry_id, "body": body, "words": " ".join(knowledge_words.segment(body))})


def test_the_migration_goes_up_down_and_up_again(db_url):
    db = Database(db_url)
    try:
        upgrade(db, "0001")
        _insert_lesson(db, 1, SHARING)
        upgrade(db, "0002")
        assert _indexed(db, "画像") == [1]  # rows from before the migration are indexed
        _insert_lesson(db, 2, "用户画像口径由产品部统一")
        assert _indexed(db, "画像") == [1, 2]

        cfg = alembic_config(db.url)
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0001")
        assert _indexed(db, "画像") is None

        upgrade(db, "0002")
        assert _indexed(db, "画像") == [1, 2]
        assert _indexed(db, "口径") == [2]
    finally:
        db.dispose()


# --- jieba --------------------------------------------------------------------------------------

def test_jieba_loads_on_first_use_quietly(tmp_path):
    # A bytecode cache of its own: jieba's modules are compiled afresh, as on an install without
    # .pyc files, where their invalid escape sequences warn (and -W error makes that fatal).
    code = (
        "import sys, warnings\n"
        "import engine.knowledge.lessons as k\n"
        "assert 'jieba' not in sys.modules\n"
        "assert k.segment('数据共享机制') == ['数据', '共享', '数据共享', '机制']\n"
        "assert 'flask' not in sys.modules and 'webui' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-X", f"pycache_prefix={tmp_path}", "-W", "error", "-c", code],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
