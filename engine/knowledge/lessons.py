"""The knowledge base: lessons from request retrospectives, proposed by anyone, approved by admins.

A lesson is searchable once a platform admin approved it. Chinese has no spaces between words, so
the title, body and tags are segmented into words with jieba (cut_for_search, which also yields
the shorter words inside long ones: 数据共享 gives 数据, 共享 and 数据共享) and kept, lowercased
and space-separated, in knowledge_entry.search_text. The database indexes that column (migration
0002: FTS5 on SQLite, a GIN index on to_tsvector('simple', ...) on PostgreSQL) and a query is
segmented by the very same function, so both sides agree on what a word is.

Queries are user input and never reach the full-text syntax as such: only the words segment()
returns (letters and digits, no punctuation) are used, each one quoted. All words of the query
must match; when that finds nothing and the query has several words, any word may match (the
result says which with "match": "all" or "any"), best matches first either way. A query with no
words left once punctuation and stop words are removed (e.g. "？？" or "AND") finds nothing; it is
not an error, as the user did type something. An empty query is InvalidInput.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from engine.context import Services
from engine.db.chain import session_tx
from engine.db.models import GroupMembership, KnowledgeEntry
from engine.db.tx import Tx
from engine.errors import InvalidInput, NotFound, PermissionDenied
from engine.knowledge.words import indexed_text, segment
from engine.messages import Msg

ADMIN_GROUP = "platform_admins"
STATUSES = ("proposed", "approved", "rejected")

TITLE_MAX = 255  # knowledge_entry.title
BODY_MAX = 20_000
TAG_MAX = 32
TAGS_MAX = 10
NOTE_MAX = 2_000
QUERY_MAX = 200
QUERY_WORDS_MAX = 32  # distinct words of a query that are searched for; the rest are ignored
REQUEST_NO_MAX = 32  # knowledge_entry.request_no
INSTANCE_ID_MAX = 36  # knowledge_entry.instance_id
USER_MAX = 64  # knowledge_entry.proposed_by / reviewed_by
PAGE_MAX = 100
EXCERPT_CHARS = 120

_TAG_SPLIT = re.compile(r"[,，、;；]")


# --- validation -------------------------------------------------------------------------------

def checked_text(value: object, field: str, label: str, max_len: int, *, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput("text.not_text", what=Msg(label))
    value = value.strip()
    if required and not value:
        raise InvalidInput("text.required", what=Msg(label))
    if len(value) > max_len:
        raise InvalidInput("text.too_long", what=Msg(label), n=len(value), most=max_len)
    return value


def _tags(tags: Iterable[str] | str | None) -> list[str]:
    """Tags as given (a list, or one comma-separated string), trimmed, without blanks or repeats."""
    if tags is None:
        return []
    items = [tags] if isinstance(tags, str) else list(tags)
    result: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise InvalidInput("text.not_text", what=Msg("what.tags"))
        for tag in _TAG_SPLIT.split(item):
            tag = " ".join(tag.split())
            if not tag or tag in result:
                continue
            if len(tag) > TAG_MAX:
                raise InvalidInput("tags.too_long", most=TAG_MAX, tag=tag[:TAG_MAX])
            result.append(tag)
    if len(result) > TAGS_MAX:
        raise InvalidInput("tags.too_many", most=TAGS_MAX, n=len(result))
    return result


def _user(user: object) -> str:
    return checked_text(user, "user", "what.user", USER_MAX, required=True)


def page_bounds(limit: object, offset: object) -> tuple[int, int]:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= PAGE_MAX:
        raise InvalidInput("paging.limit", most=PAGE_MAX, given=repr(limit))
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidInput("paging.offset", given=repr(offset))
    return limit, offset


# --- rows -------------------------------------------------------------------------------------

def split_tags(stored: str) -> list[str]:
    return [t for t in stored.split(",") if t]


def entry_row(row: KnowledgeEntry) -> dict:
    return {
        "id": row.id, "request_no": row.request_no, "instance_id": row.instance_id,
        "title": row.title, "body": row.body, "tags": split_tags(row.tags), "status": row.status,
        "proposed_by": row.proposed_by, "proposed_at": row.proposed_at.isoformat(),
        "reviewed_by": row.reviewed_by,
        "reviewed_at": row.reviewed_at.isoformat() if row.reviewed_at else None,
        "review_note": row.review_note,
    }


def _require_admin(s: Session, user: str) -> None:
    if s.get(GroupMembership, (user, ADMIN_GROUP)) is None:
        raise PermissionDenied("admin.required", user=user, action=Msg("action.review_lessons"))


# --- commands ---------------------------------------------------------------------------------

def propose_lesson(ctx: Services, *, title: str, body: str, tags: Iterable[str] | str = (),
                   request_no: str | None = None, instance_id: str | None = None, user: str) -> int:
    """Propose a lesson for the knowledge base; it waits for a platform admin. The new entry's id."""
    title = checked_text(title, "title", "what.title", TITLE_MAX, required=True)
    body = checked_text(body, "body", "what.body", BODY_MAX, required=True)
    tag_list = _tags(tags)
    request_no = checked_text(request_no, "request_no", "what.request_no", REQUEST_NO_MAX, required=False) or None
    instance_id = checked_text(instance_id, "instance_id", "what.instance", INSTANCE_ID_MAX, required=False) or None
    user = _user(user)
    search_text = indexed_text(title, body, tag_list)
    with ctx.db.write() as s:
        row = KnowledgeEntry(request_no=request_no, instance_id=instance_id, title=title, body=body,
                             tags=",".join(tag_list), status="proposed", proposed_by=user,
                             proposed_at=ctx.now(), search_text=search_text)
        s.add(row)
        s.flush()
        place(session_tx(s), "e.id = ?", (row.id,))
        return row.id


def review_lesson(ctx: Services, entry_id: int, user: str, approve: bool, note: str = "") -> dict:
    """Approve (searchable from now on) or reject a proposed lesson; platform admins only.

    The reviewed entry. Only a proposed entry can be reviewed: a decision is not taken back here.
    """
    if not isinstance(approve, bool):
        raise InvalidInput("value.not_boolean", what="approve", given=repr(approve))
    if isinstance(entry_id, bool) or not isinstance(entry_id, int):
        raise InvalidInput("value.not_integer", what="entry_id", given=repr(entry_id))
    user = _user(user)
    note = checked_text(note, "note", "what.review_note", NOTE_MAX, required=False)
    with ctx.db.write() as s:
        _require_admin(s, user)  # before the lookup: others learn nothing about the entries
        row = s.get(KnowledgeEntry, entry_id, with_for_update=True)
        if row is None:
            raise NotFound("lesson.unknown", id=entry_id)
        if row.status != "proposed":
            raise InvalidInput("lesson.reviewed", id=entry_id, status=row.status)
        row.status = "approved" if approve else "rejected"
        row.reviewed_by = user
        row.reviewed_at = ctx.now()
        row.review_note = note or None
        s.flush()
        return entry_row(row)


def reindex(ctx: Services) -> int:
    """Segment every entry's title, body and tags again; the number of entries whose words changed.

    For entries written before the words were kept, and after segment() changes (stop words, a
    newer jieba dictionary). The full-text index follows search_text by itself (see migration 0002).
    """
    changed = 0
    with ctx.db.write() as s:
        for row in s.scalars(select(KnowledgeEntry).order_by(KnowledgeEntry.id)).all():
            words = indexed_text(row.title, row.body, split_tags(row.tags))
            if row.search_text != words:
                row.search_text = words
                changed += 1
        s.flush()
        place(session_tx(s), "1 = 1", ())
    return changed


# --- queries ----------------------------------------------------------------------------------

def list_entries(ctx: Services, status: str | None = None) -> list[dict]:
    """Entries, newest first; only those with `status` (proposed, approved, rejected) if given."""
    if status is not None and status not in STATUSES:
        raise InvalidInput("choice.unknown", what=Msg("what.lesson_status"), given=repr(status), known=list(STATUSES))
    with ctx.db.read() as s:
        q = select(KnowledgeEntry).order_by(KnowledgeEntry.proposed_at.desc(), KnowledgeEntry.id.desc())
        if status is not None:
            q = q.where(KnowledgeEntry.status == status)
        return [entry_row(row) for row in s.scalars(q)]


def query_words(query: str) -> list[str]:
    """The distinct words searched for, in order (at most QUERY_WORDS_MAX)."""
    return list(dict.fromkeys(segment(query)))[:QUERY_WORDS_MAX]


def _fts5_match(words: list[str], any_word: bool) -> str:
    # Each word is an FTS5 string ("..." with " doubled): never an operator, column filter or prefix.
    quoted = ['"' + w.replace('"', '""') + '"' for w in words]
    return (" OR " if any_word else " ").join(quoted)


def _tsquery(words: list[str], any_word: bool) -> str:
    # Each word is a quoted lexeme ('...' with ' doubled and \ escaped): never an operator.
    quoted = ["'" + w.replace("\\", "\\\\").replace("'", "''") + "'" for w in words]
    return (" | " if any_word else " & ").join(quoted)


def excerpt_of(body: str, words: list[str]) -> str:
    """About EXCERPT_CHARS characters of the body around the first word of the query it contains."""
    flat = " ".join(body.split())
    first = None
    for word in words:
        found = re.search(re.escape(word), flat, re.IGNORECASE)
        if found and (first is None or found.start() < first):
            first = found.start()
    start = 0 if first is None else max(0, first - EXCERPT_CHARS // 4)
    start = max(0, min(start, len(flat) - EXCERPT_CHARS))
    end = start + EXCERPT_CHARS
    return ("…" if start else "") + flat[start:end] + ("…" if end < len(flat) else "")


def search(ctx: Services, query: str, limit: int = 20, offset: int = 0) -> dict:
    """Approved lessons matching `query`, best first: {query, words, match, total, limit, offset, items}.

    match is "all" when every word matched, "any" when that found nothing and any word was enough,
    "none" when the query has no words to search for. Each item: id, title, excerpt, tags,
    request_no, instance_id, reviewed_at.
    """
    query = checked_text(query, "query", "what.query", QUERY_MAX, required=True)
    limit, offset = page_bounds(limit, offset)
    words = query_words(query)
    result = {"query": query, "words": words, "match": "none", "total": 0, "limit": limit,
              "offset": offset, "items": []}
    if not words:
        return result
    with ctx.db.transaction(write=False) as tx:
        result["match"], any_word = "all", False
        total = _approved_matches(tx, words, False)
        if not total and len(words) > 1:
            result["match"], any_word = "any", True
            total = _approved_matches(tx, words, True)
        ids = page_ids(tx, match_sql(tx, words, any_word), "", (), limit, offset, words, any_word) if total else []
    with ctx.db.read() as s:
        rows = {row.id: row for row in s.scalars(select(KnowledgeEntry).where(KnowledgeEntry.id.in_(ids)))}
        result["total"] = total
        result["items"] = [
            {"id": row.id, "title": row.title, "excerpt": excerpt_of(row.body, words),
             "tags": split_tags(row.tags), "request_no": row.request_no, "instance_id": row.instance_id,
             "reviewed_at": row.reviewed_at.isoformat() if row.reviewed_at else None}
            for row in (rows[i] for i in ids)]
    return result


# --- the knowledge page: browsing by request type and department ---------------------------------
# Each entry keeps its request's type (knowledge_entry.request_type) and the departments it concerns
# (knowledge_entry_dept: requester's, lead and involved ones), written by place() when the entry is
# proposed and again when its request is dispatched to a lead department, so the page counts its
# facets and takes its page of lessons in the database, however many lessons there are.

FACET_MAX = 32  # request_summary.request_type / department ids

# An entry's request: by its instance (request_summary's key), else by its number alone (an entry
# proposed on the command line may name only the number); each join finds one row through an index.
REQUEST_COLUMNS = ", ".join(f"COALESCE(r1.{c}, r2.{c}) AS {alias}" for c, alias in (
    ("request_type", "request_type"), ("requester_dept", "requester_dept"), ("lead_dept", "lead_dept"),
    ("involved_depts", "involved_depts"), ("title", "request_title"), ("instance_id", "request_instance")))
REQUEST_JOIN = ("FROM knowledge_entry e LEFT JOIN request_summary r1 ON r1.instance_id = e.instance_id "
                 "LEFT JOIN request_summary r2 ON e.instance_id IS NULL AND r2.request_no = e.request_no")
ENTRY_WITH_REQUEST = text(f"SELECT e.id, {REQUEST_COLUMNS} {REQUEST_JOIN} WHERE e.id = :id")


def request_of(row) -> dict:
    depts = [row.requester_dept, row.lead_dept, *(row.involved_depts or "").split(",")]
    return {"request_type": row.request_type, "request_title": row.request_title,
            "departments": sorted({d for d in depts if d})}


def place(tx: Tx, where: str, params: tuple, lead: str | None = None) -> None:
    """Write the request type and departments of the entries `where` selects (a condition on e,
    knowledge_entry) from their requests; `lead`: the lead department a command is setting now."""
    rows = tx.all(f"SELECT e.id, COALESCE(r1.request_type, r2.request_type), COALESCE(r1.requester_dept, "
                  "r2.requester_dept), COALESCE(r1.lead_dept, r2.lead_dept), COALESCE(r1.involved_depts, "
                  f"r2.involved_depts) {REQUEST_JOIN} WHERE {where}", params)
    for i in range(0, len(rows), 400):
        chunk = [r[0] for r in rows[i:i + 400]]
        tx.run(f"DELETE FROM knowledge_entry_dept WHERE entry_id IN ({tx.in_list(chunk)})", chunk)
    tx.many("UPDATE knowledge_entry SET request_type = ? WHERE id = ?", [(r[1], r[0]) for r in rows])
    tx.many("INSERT INTO knowledge_entry_dept (entry_id, department_id) VALUES (?, ?)",
            [(entry, dept) for entry, _type, requester, old_lead, involved in rows
             for dept in sorted({requester, lead or old_lead, *(involved or "").split(",")} - {None, ""})])


def request_dispatched(tx: Tx, instance_id: str, request_no: str, lead: str) -> None:
    """A request got its lead department (in the command that sets it): its lessons concern it."""
    place(tx, "(e.instance_id = ? OR (e.instance_id IS NULL AND e.request_no = ?))", (instance_id, request_no),
          lead=lead)


def facet_value(value: object, field: str, label: str) -> str | None:
    if value is None or value == "":
        return None
    return checked_text(value, field, label, FACET_MAX, required=True)


def counted(rows) -> list[dict]:
    return [{"value": v, "count": int(n)} for v, n in sorted(((v, n) for v, n in rows if v and n),
                                                             key=lambda item: (-item[1], item[0]))]


def match_sql(tx: Tx, words: list[str], any_word: bool) -> tuple[str, tuple]:
    """A condition on e keeping the entries the words match, and its parameter."""
    if tx.postgres:
        return ("to_tsvector('simple'::regconfig, e.search_text) @@ to_tsquery('simple'::regconfig, ?)",
                (_tsquery(words, any_word),))
    return "e.id IN (SELECT rowid FROM knowledge_fts WHERE knowledge_fts MATCH ?)", (_fts5_match(words, any_word),)


def _approved_matches(tx: Tx, words: list[str], any_word: bool) -> int:
    match, params = match_sql(tx, words, any_word)
    return tx.one(f"SELECT count(*) FROM knowledge_entry e WHERE e.status = 'approved' AND {match}", params)[0]


# One page of the entries a query matches, best first: the query, the conditions of {cond}, limit, offset.
# to_tsvector('simple'::regconfig, search_text) is the expression of ix_knowledge_entry_search.
_PG_PAGE = ("SELECT e.id FROM knowledge_entry e, to_tsquery('simple'::regconfig, ?) AS q WHERE "
            "to_tsvector('simple'::regconfig, e.search_text) @@ q AND e.status = 'approved'{cond} ORDER BY "
            "ts_rank(to_tsvector('simple'::regconfig, e.search_text), q, 1) DESC, e.id DESC LIMIT ? OFFSET ?")
_SQLITE_PAGE = ("SELECT e.id FROM knowledge_fts JOIN knowledge_entry e ON e.id = knowledge_fts.rowid WHERE "
                "knowledge_fts MATCH ? AND e.status = 'approved'{cond} ORDER BY bm25(knowledge_fts), e.id DESC "
                "LIMIT ? OFFSET ?")


def page_ids(tx: Tx, match: tuple[str, tuple] | None, cond: str, params: tuple, limit: int, offset: int,
              words: list[str], any_word: bool) -> list[int]:
    """The ids of one page of the chosen entries: best match first, else latest approved first."""
    if match is None:
        return [i for (i,) in tx.all(f"SELECT e.id FROM knowledge_entry e WHERE e.status = 'approved'{cond} "
                                     "ORDER BY e.reviewed_at DESC, e.id DESC LIMIT ? OFFSET ?",
                                     (*params, limit, offset))]
    page, q = (_PG_PAGE, _tsquery(words, any_word)) if tx.postgres else (_SQLITE_PAGE, _fts5_match(words, any_word))
    return [i for (i,) in tx.all(page.format(cond=cond), (q, *params, limit, offset))]


