"""The collaboration guide (协作指南): pages in order, written in Markdown by platform admins.

Every save is a revision of its own (created, edited, retired, restored: who, when, the title and
body as saved, a note), never changed afterwards; the page row holds the current one for readers.
An edit names the revision it started from and is refused when someone saved another since, so no
edit is silently lost. Retired pages leave the guide (readers no longer see them) and keep their
history; a restored page goes back to the end of the guide.

A page cites lessons of the knowledge base as [[kb:12]] (12 being the entry's number) in its text;
every cited entry must exist and be approved when the page is saved. What stands in code (a code
span or a code block, where a page may show how to cite) cites nothing. The Markdown is parsed here
(MARKDOWN, CommonMark with tables, raw HTML off) so that the check and the web UI's rendering agree
on what is text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.context import Services
from engine.db.models import GroupMembership, GuidePage, GuideRevision, KnowledgeEntry
from engine.errors import FormInvalid, InvalidInput, NotFound, PermissionDenied
from engine.messages import Msg

ADMIN_GROUP = "platform_admins"
TITLE_MAX = 255  # guide_page.title
BODY_MAX = 50_000
NOTE_MAX = 500
CITATION = re.compile(r"\[\[kb:(\d{1,9})\]\]")
ACTIONS = ("created", "edited", "retired", "restored")


MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")


def _citation_tokens(state) -> None:
    """A core rule: each [[kb:N]] in plain text becomes a token of its own (kb_citation, meta entry).

    It runs before text_join, so a citation written with escapes (\\[\\[kb:5\\]\\], &#91;...) is not
    one, nor is one in code (a code span or block is no text) or in the text of a link."""
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        out, in_link = [], 0
        for token in block.children:
            in_link += {"link_open": 1, "link_close": -1}.get(token.type, 0)
            if token.type != "text" or in_link or not CITATION.search(token.content):
                out.append(token)
                continue
            at = 0
            for found in CITATION.finditer(token.content):
                if found.start() > at:
                    out.append(Token("text", "", 0, content=token.content[at:found.start()]))
                cite = Token("kb_citation", "", 0, content=found.group(0), meta={"entry": int(found.group(1))})
                out.append(cite)
                at = found.end()
            if at < len(token.content):
                out.append(Token("text", "", 0, content=token.content[at:]))
        block.children = out


def _render_citation(self, tokens, idx, options, env) -> str:
    """A citation as HTML: a link reading 「title」 to an approved entry (env kb_titles: entry ->
    title, kb_link: entry -> address), else its text as written."""
    token = tokens[idx]
    entry, titles, link = token.meta["entry"], env.get("kb_titles") or {}, env.get("kb_link")
    if entry in titles and link is not None:
        return f'<a href="{escapeHtml(link(entry))}">「{escapeHtml(titles[entry])}」</a>'
    return escapeHtml(token.content)


MARKDOWN.core.ruler.before("text_join", "kb_citation", _citation_tokens)
MARKDOWN.add_render_rule("kb_citation", _render_citation)


def _cited(body: str) -> Iterator[tuple[int, int]]:
    """(line, entry) of each citation of `body` (see _citation_tokens), the line counted from 1."""
    for block in MARKDOWN.parse(body or ""):
        if block.type != "inline" or not block.children:
            continue
        line = block.map[0] + 1 if block.map else 1
        for child in block.children:
            if child.type in ("softbreak", "hardbreak"):
                line += 1
            elif child.type == "kb_citation":
                yield line, child.meta["entry"]


def citations(body: str) -> list[int]:
    """The knowledge entries `body` cites ([[kb:N]] in its text), in order of first citation."""
    return list(dict.fromkeys(entry for _line, entry in _cited(body)))


# --- checks -------------------------------------------------------------------------------------

def _require_admin(s: Session, user: str) -> None:
    if not isinstance(user, str) or s.get(GroupMembership, (user, ADMIN_GROUP)) is None:
        raise PermissionDenied("admin.required", user=user, action=Msg("action.guide"))


def _id(value: object, field: str = "page_id") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("value.not_integer", what=field, given=repr(value))
    return value


def _content(s: Session, title: object, body: object, note: object) -> tuple[str, str, str]:
    """Title, body and note as stored; FormInvalid naming each field that is wrong."""
    errors: dict[str, Msg] = {}
    values = {}
    for field, value, limit, required in (("title", title, TITLE_MAX, True), ("body", body, BODY_MAX, True),
                                          ("note", note, NOTE_MAX, False)):
        what = Msg("what.guide_" + field)
        if value is None:
            value = ""
        if not isinstance(value, str):
            errors[field] = Msg("text.not_text", what=what)
            continue
        value = value.strip() if field != "body" else value.strip("\n").rstrip()
        if required and not value.strip():
            errors[field] = Msg("text.required", what=what)
        elif len(value) > limit:
            errors[field] = Msg("text.too_long", what=what, n=len(value), most=limit)
        values[field] = value
    if "body" in values and "body" not in errors:
        problems = _bad_citations(s, values["body"])
        if problems:
            errors["body"] = Msg("guide.citations", problems=[p.to_dict() for p in problems])
    if errors:
        raise FormInvalid(errors)
    return values["title"], values["body"], values["note"]


def _bad_citations(s: Session, body: str) -> list[Msg]:
    cited = citations(body)
    if not cited:
        return []
    approved = set(s.scalars(select(KnowledgeEntry.id).where(KnowledgeEntry.id.in_(cited),
                                                             KnowledgeEntry.status == "approved")))
    return [Msg("guide.citation_unknown", line=number, entry=entry)
            for number, entry in dict.fromkeys(_cited(body)) if entry not in approved]


# --- rows ---------------------------------------------------------------------------------------

def _page(row: GuidePage) -> dict:
    return {"id": row.id, "position": row.position, "title": row.title, "body": row.body, "revision": row.revision,
            "retired": row.retired_at is not None, "retired_at": row.retired_at.isoformat() if row.retired_at else None,
            "created_by": row.created_by, "created_at": row.created_at.isoformat(), "updated_by": row.updated_by,
            "updated_at": row.updated_at.isoformat(), "citations": citations(row.body)}


def _revision(row: GuideRevision) -> dict:
    return {"page_id": row.page_id, "number": row.number, "action": row.action, "title": row.title,
            "body": row.body, "note": row.note, "author": row.author, "created_at": row.created_at.isoformat()}


def _locked(s: Session, page_id: int) -> GuidePage:
    row = s.get(GuidePage, page_id, with_for_update=True)
    if row is None:
        raise NotFound("guide.unknown", id=page_id)
    return row


def _save(s: Session, ctx: Services, row: GuidePage, action: str, user: str, note: str) -> int:
    now = ctx.now()
    row.revision += 1
    row.updated_by, row.updated_at = user, now
    s.add(GuideRevision(page_id=row.id, number=row.revision, action=action, title=row.title, body=row.body,
                        note=note, author=user, created_at=now))
    s.flush()
    return row.revision


def _end(s: Session) -> int:
    return (s.scalar(select(func.max(GuidePage.position)).where(GuidePage.retired_at.is_(None))) or 0) + 1


# --- commands -----------------------------------------------------------------------------------

def create_page(ctx: Services, user: str, *, title: str, body: str, note: str = "") -> int:
    """A new page at the end of the guide (its revision 1); the page's id. Platform admins only."""
    with ctx.db.write() as s:
        _require_admin(s, user)
        title, body, note = _content(s, title, body, note)
        now = ctx.now()
        row = GuidePage(position=_end(s), title=title, body=body, revision=0, created_by=user, created_at=now,
                        updated_by=user, updated_at=now)
        s.add(row)
        s.flush()
        _save(s, ctx, row, "created", user, note)
        return row.id


def edit_page(ctx: Services, user: str, page_id: int, *, title: str, body: str, base_revision: int,
              note: str = "") -> int:
    """Save a page's new title and body as its next revision; its number. `base_revision` is the
    revision the editor started from: when another was saved since, nothing is written."""
    page_id = _id(page_id)
    with ctx.db.write() as s:
        _require_admin(s, user)
        row = _locked(s, page_id)
        if base_revision != row.revision:
            raise FormInvalid({"revision": Msg("guide.stale", user=row.updated_by, revision=row.revision,
                                                 yours=base_revision)})
        if row.retired_at is not None:
            raise InvalidInput("guide.retired_edit", id=page_id)
        title, body, note = _content(s, title, body, note)
        if (title, body) == (row.title, row.body):
            raise FormInvalid({"body": Msg("guide.unchanged")})
        row.title, row.body = title, body
        return _save(s, ctx, row, "edited", user, note)


def retire_page(ctx: Services, user: str, page_id: int, note: str = "") -> int:
    """Take a page out of the guide (kept with its history); the revision recording it."""
    page_id = _id(page_id)
    with ctx.db.write() as s:
        _require_admin(s, user)
        row = _locked(s, page_id)
        if row.retired_at is not None:
            raise InvalidInput("guide.retired", id=page_id)
        note = _content(s, row.title, row.body, note)[2]
        row.retired_at = ctx.now()
        return _save(s, ctx, row, "retired", user, note)


def restore_page(ctx: Services, user: str, page_id: int, note: str = "") -> int:
    """Put a retired page back, at the end of the guide; the revision recording it."""
    page_id = _id(page_id)
    with ctx.db.write() as s:
        _require_admin(s, user)
        row = _locked(s, page_id)
        if row.retired_at is None:
            raise InvalidInput("guide.not_retired", id=page_id)
        note = _content(s, row.title, row.body, note)[2]
        row.retired_at = None
        row.position = _end(s)
        return _save(s, ctx, row, "restored", user, note)


def move_page(ctx: Services, user: str, page_id: int, direction: str) -> list[int]:
    """Swap a page with its neighbour above ("up") or below ("down"); the guide's page ids in order.
    Moving the first page up or the last one down changes nothing. Order is not content: no revision."""
    page_id = _id(page_id)
    if direction not in ("up", "down"):
        raise InvalidInput("guide.direction", given=repr(direction))
    with ctx.db.write() as s:
        _require_admin(s, user)
        row = _locked(s, page_id)
        if row.retired_at is not None:
            raise InvalidInput("guide.retired_move", id=page_id)
        pages = list(s.scalars(select(GuidePage).where(GuidePage.retired_at.is_(None))
                               .order_by(GuidePage.position, GuidePage.id).with_for_update()))
        at = next(n for n, p in enumerate(pages) if p.id == page_id)
        other = at - 1 if direction == "up" else at + 1
        if 0 <= other < len(pages):
            pages[at], pages[other] = pages[other], pages[at]
        for position, page in enumerate(pages, start=1):  # also closes gaps left by retired pages
            page.position = position
        return [p.id for p in pages]


# --- queries ------------------------------------------------------------------------------------

def list_pages(ctx: Services, *, include_retired: bool = False) -> list[dict]:
    """The guide's pages in order (without retired ones unless asked: those come last, by id)."""
    with ctx.db.read() as s:
        q = select(GuidePage).order_by(GuidePage.retired_at.is_not(None), GuidePage.position, GuidePage.id)
        if not include_retired:
            q = q.where(GuidePage.retired_at.is_(None))
        return [_page(row) for row in s.scalars(q)]


def get_page(ctx: Services, page_id: int, *, include_retired: bool = False) -> dict:
    """A page as it stands; NotFound for a retired one unless `include_retired` (the admins' view)."""
    page_id = _id(page_id)
    with ctx.db.read() as s:
        row = s.get(GuidePage, page_id)
        if row is None or (row.retired_at is not None and not include_retired):
            raise NotFound("guide.unknown", id=page_id)
        return _page(row)


def page_history(ctx: Services, page_id: int) -> list[dict]:
    """Every revision of a page, newest first."""
    page_id = _id(page_id)
    with ctx.db.read() as s:
        if s.get(GuidePage, page_id) is None:
            raise NotFound("guide.unknown", id=page_id)
        return [_revision(r) for r in s.scalars(select(GuideRevision).where(GuideRevision.page_id == page_id)
                                                .order_by(GuideRevision.number.desc()))]


def get_revision(ctx: Services, page_id: int, number: int) -> dict:
    """One revision of a page as it was saved."""
    page_id, number = _id(page_id), _id(number, "number")
    with ctx.db.read() as s:
        row = s.scalar(select(GuideRevision).where(GuideRevision.page_id == page_id, GuideRevision.number == number))
        if row is None:
            raise NotFound("guide.no_revision", id=page_id, revision=number)
        return _revision(row)
