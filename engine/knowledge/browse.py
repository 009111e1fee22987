"""The knowledge page: approved lessons browsed by Chinese words, request type and department, with
facet counts and totals from the database; and approved lessons looked up by id (the guide's citations)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from engine.context import Services
from engine.db.models import KnowledgeEntry
from engine.db.tx import Tx
from engine.errors import InvalidInput, NotFound
from engine.knowledge.lessons import (
    ENTRY_WITH_REQUEST,
    QUERY_MAX,
    REQUEST_JOIN,
    checked_text,
    counted,
    entry_row,
    excerpt_of,
    facet_value,
    match_sql,
    page_bounds,
    page_ids,
    query_words,
    request_of,
    split_tags,
)


def browse(ctx: Services, query: str | None = None, *, request_type: str | None = None,
           department: str | None = None, limit: int = 20, offset: int = 0) -> dict:
    """Approved lessons for the knowledge page, with facets: {query, words, match, request_type,
    department, total, limit, offset, items, facets: {types, departments}}.

    Without a query: every approved lesson, latest approved first; with one: the lessons search()
    finds, best first (match as there). request_type and department narrow to lessons whose request
    has that type, or that department as requester's, lead or involved one. Each facet counts the
    lessons of each value under the other facet's choice ({value, count}, most first). Each item:
    id, title, excerpt, tags, request_no, instance_id (of the request, for a link), request_type,
    request_title, departments, reviewed_at.
    """
    query = checked_text(query, "query", "what.query", QUERY_MAX, required=False) or None
    request_type = facet_value(request_type, "request_type", "what.request_type")
    department = facet_value(department, "department", "what.department")
    limit, offset = page_bounds(limit, offset)
    words = query_words(query) if query else []
    result = {"query": query, "words": words, "match": "all" if query else None, "request_type": request_type,
              "department": department, "total": 0, "limit": limit, "offset": offset, "items": [],
              "facets": {"types": [], "departments": []}}
    if query and not words:
        result["match"] = "none"
        return result
    with ctx.db.transaction(write=False) as tx:
        match, any_word = None, False
        if words:
            match = match_sql(tx, words, False)
            found = tx.one(f"SELECT 1 FROM knowledge_entry e WHERE e.status = 'approved' AND {match[0]} LIMIT 1",
                           match[1])
            if found is None and len(words) > 1:
                result["match"], any_word = "any", True
                match = match_sql(tx, words, True)
        base, base_params = (f" AND {match[0]}", match[1]) if match else ("", ())
        of_type = (" AND e.request_type = ?", (request_type,)) if request_type else ("", ())
        of_dept = (" AND EXISTS (SELECT 1 FROM knowledge_entry_dept d WHERE d.entry_id = e.id AND "
                   "d.department_id = ?)", (department,)) if department else ("", ())
        types = tx.all(f"SELECT e.request_type, count(*) FROM knowledge_entry e WHERE e.status = 'approved'{base}"
                       f"{of_dept[0]} GROUP BY e.request_type", (*base_params, *of_dept[1]))
        depts = tx.all("SELECT d.department_id, count(*) FROM knowledge_entry_dept d JOIN knowledge_entry e ON "
                       f"e.id = d.entry_id WHERE e.status = 'approved'{base}{of_type[0]} GROUP BY d.department_id",
                       (*base_params, *of_type[1]))
        result["facets"] = {"types": counted(types), "departments": counted(depts)}
        result["total"] = sum(int(n) for t, n in types if request_type is None or t == request_type)
        cond, params = f"{of_type[0]}{of_dept[0]}", (*of_type[1], *of_dept[1])
        ids = page_ids(tx, match, cond, params, limit, offset, words, any_word) if result["total"] else []
        if ids:
            marks = tx.in_list(ids)
            rows = {r[0]: r for r in tx.all(
                "SELECT e.id, e.title, e.body, e.tags, e.request_no, e.instance_id, e.reviewed_at, "
                f"COALESCE(r1.request_type, r2.request_type), COALESCE(r1.title, r2.title), COALESCE(r1.instance_id, "
                f"r2.instance_id) {REQUEST_JOIN} WHERE e.id IN ({marks})", ids)}
            concerned: dict[int, list[str]] = {}
            for entry, dept in tx.all(f"SELECT entry_id, department_id FROM knowledge_entry_dept WHERE entry_id IN "
                                      f"({marks}) ORDER BY entry_id, department_id", ids):
                concerned.setdefault(entry, []).append(dept)
            items = []
            for i in ids:
                _id, title, body, tags, number, instance, reviewed, rtype, rtitle, rinstance = rows[i]
                reviewed = Tx.when(reviewed)
                items.append({"id": i, "title": title, "excerpt": excerpt_of(body, words), "tags": split_tags(tags),
                              "request_no": number, "instance_id": rinstance or instance, "request_type": rtype,
                              "request_title": rtitle, "departments": concerned.get(i, []),
                              "reviewed_at": reviewed.isoformat() if reviewed else None})
            result["items"] = items
    return result


def approved_entry(ctx: Services, entry_id: int) -> dict:
    """An approved lesson with its request (request_type, request_title, departments); NotFound for
    any other entry, so readers learn nothing of lessons still waiting or rejected."""
    if isinstance(entry_id, bool) or not isinstance(entry_id, int):
        raise InvalidInput("value.not_integer", what="entry_id", given=repr(entry_id))
    with ctx.db.read() as s:
        row = s.get(KnowledgeEntry, entry_id)
        if row is None or row.status != "approved":
            raise NotFound("lesson.not_approved", id=entry_id)
        found = s.execute(ENTRY_WITH_REQUEST, {"id": entry_id}).first()
        entry = entry_row(row)
        entry.update(request_of(found))
        if found.request_instance:
            entry["instance_id"] = found.request_instance
        return entry


def approved_titles(ctx: Services, entry_ids: Iterable[int]) -> dict[int, str]:
    """The titles of those of `entry_ids` that are approved lessons (others are left out)."""
    ids = sorted({i for i in entry_ids if isinstance(i, int) and not isinstance(i, bool)})
    if not ids:
        return {}
    with ctx.db.read() as s:
        return dict(s.execute(select(KnowledgeEntry.id, KnowledgeEntry.title).where(
            KnowledgeEntry.id.in_(ids), KnowledgeEntry.status == "approved")).all())
