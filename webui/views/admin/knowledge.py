"""The review of lessons: those proposed wait for an admin to approve (searchable from then on) or
reject them; a search box over the approved ones (Chinese words, as the knowledge base segments them)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from engine.errors import InvalidInput
from engine.knowledge.lessons import NOTE_MAX, QUERY_MAX, list_entries, review_lesson, search
from engine.org.directory import directory
from webui.extensions import services
from webui.i18n import message
from webui.views.admin.area import bp

RECENT = 10  # reviewed lessons shown below the waiting ones


def _knowledge_page(errors: dict | None = None, notes: dict | None = None, status: int = 200):
    ctx = services()
    query = request.args.get("q", "").strip()
    found, search_error = None, None
    if query:
        try:
            found = search(ctx, query)
        except InvalidInput as exc:  # too long: the engine says how long it may be
            search_error = message(exc)
    reviewed = sorted((e for e in list_entries(ctx) if e["status"] != "proposed"),
                      key=lambda e: e["reviewed_at"] or "", reverse=True)[:RECENT]
    return render_template("admin/knowledge.html", waiting=list_entries(ctx, "proposed"), reviewed=reviewed,
                           query=query, found=found, search_error=search_error, errors=errors or {},
                           notes=notes or {}, note_max=NOTE_MAX, query_max=QUERY_MAX,
                           names={u: p["name"] for u, p in directory(ctx).users.items()}), status


@bp.route("/knowledge")
def knowledge():
    """Lessons waiting for review, recent decisions, and the search (?q=跨部门 协作)."""
    return _knowledge_page()


@bp.route("/knowledge/<int:entry_id>/review", methods=["POST"])
def knowledge_review(entry_id: int):
    """Approve or reject a proposed lesson; a rejection says why."""
    decision, note = request.form.get("decision", ""), (request.form.get("note") or "").strip()
    error = None
    if decision not in ("approve", "reject"):
        error = _("请选择通过或驳回。")
    elif decision == "reject" and not note:
        error = _("驳回时请写明原因。")
    elif len(note) > NOTE_MAX:
        error = _("审核意见最多 %(n)s 个字。", n=NOTE_MAX)
    if error:
        return _knowledge_page({entry_id: error}, {entry_id: note}, 400)
    try:
        entry = review_lesson(services(), entry_id, current_user.id, decision == "approve", note)
    except InvalidInput as exc:  # reviewed by someone else meanwhile
        flash(message(exc), "error")
        return redirect(url_for("admin.knowledge"))
    flash(_("已通过“%(title)s”，现在可以搜索到。", title=entry["title"]) if entry["status"] == "approved"
          else _("已驳回“%(title)s”。", title=entry["title"]), "success")
    return redirect(url_for("admin.knowledge"))
