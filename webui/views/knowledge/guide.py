"""The collaboration guide (协作指南): everyone reads the current pages and their history; platform admins
create, edit, reorder, retire and restore pages, every save kept as a revision."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from engine.errors import FormInvalid, InvalidInput, NotFound
from engine.knowledge import guide
from engine.knowledge.browse import approved_titles, browse
from webui.extensions import services
from webui.i18n import message, messages
from webui.views.knowledge.area import bp, entry_link
from webui.views.knowledge.markdown import render

ACTION_LABELS = {"created": _l("创建"), "edited": _l("修改"), "retired": _l("停用"), "restored": _l("恢复")}


def _admin() -> None:
    if not current_user.is_admin:
        abort(403)


def _html(body: str):
    return render(body, approved_titles(services(), guide.citations(body)), entry_link)


def _page_or_404(page_id: int, include_retired: bool = False) -> dict:
    try:
        return guide.get_page(services(), page_id, include_retired=include_retired)
    except NotFound:
        abort(404)


@bp.route("/guide")
def guide_index():
    """The guide: its pages in order, each in full; admins also see retired pages and the editing links."""
    pages = guide.list_pages(services(), include_retired=current_user.is_admin)
    return render_template("knowledge/guide.html", pages=pages, html={p["id"]: _html(p["body"]) for p in pages})


@bp.route("/guide/<int:page_id>")
def guide_page(page_id: int):
    """One page of the guide as it stands."""
    page = _page_or_404(page_id, include_retired=current_user.is_admin)
    return render_template("knowledge/guide_page.html", page=page, html=_html(page["body"]))


@bp.route("/guide/<int:page_id>/history")
def guide_history(page_id: int):
    """Every revision of a page: who saved it, when, what for."""
    page = _page_or_404(page_id, include_retired=current_user.is_admin)
    return render_template("knowledge/guide_history.html", page=page, revisions=guide.page_history(services(), page_id),
                           actions=ACTION_LABELS)


@bp.route("/guide/<int:page_id>/revisions/<int:rev>")
def guide_revision(page_id: int, rev: int):
    """A page as one of its revisions had it."""
    page = _page_or_404(page_id, include_retired=current_user.is_admin)
    try:
        found = guide.get_revision(services(), page_id, rev)
    except NotFound:
        abort(404)
    return render_template("knowledge/guide_revision.html", page=page, rev=found, html=_html(found["body"]),
                           actions=ACTION_LABELS)


def _editor(page: dict | None, values: dict, errors: dict | None = None, status: int = 200):
    """The editor, with a search of approved lessons to cite (cite=数据, posted with the editor's
    form so what is typed stays, or in the query)."""
    cite_query = (request.form.get("cite") or request.args.get("cite", "")).strip()[:100]
    cited = None
    if cite_query:
        try:
            cited = browse(services(), cite_query, limit=10)
        except InvalidInput:
            cited = None
    return render_template("knowledge/guide_edit.html", page=page, values=values, errors=errors or {},
                           cite_query=cite_query, cited=cited, title_max=guide.TITLE_MAX, body_max=guide.BODY_MAX,
                           note_max=guide.NOTE_MAX), status


def _form() -> dict:
    return {k: request.form.get(k, "") for k in ("title", "body", "note")}


@bp.route("/guide/new", methods=["GET", "POST"])
def guide_new():
    """A new page, added at the end of the guide."""
    _admin()
    if request.method == "GET":
        return _editor(None, {"title": "", "body": "", "note": ""})
    values = _form()
    if request.form.get("action") == "cite":  # a search for a lesson to cite: nothing saved
        return _editor(None, values)
    try:
        page_id = guide.create_page(services(), current_user.id, **values)
    except FormInvalid as exc:
        return _editor(None, values, messages(exc.errors), 422)
    flash(_("已新建页面“%(title)s”。", title=values["title"].strip()), "success")
    return redirect(url_for("knowledge.guide_page", page_id=page_id))


@bp.route("/guide/<int:page_id>/edit", methods=["GET", "POST"])
def guide_edit(page_id: int):
    """Edit a page: saved as its next revision, refused when someone saved another meanwhile."""
    _admin()
    page = _page_or_404(page_id, include_retired=True)
    if request.method == "GET":
        return _editor(page, {"title": page["title"], "body": page["body"], "note": "", "revision": page["revision"]})
    values = _form()
    base = request.form.get("revision", "")
    if not base.isdigit():
        return _editor(page, {**values, "revision": page["revision"]},
                       {"revision": _("缺少所编辑的版本号，请重新打开编辑页面。")}, 400)
    if request.form.get("action") == "cite":  # a search for a lesson to cite: nothing saved
        return _editor(page, {**values, "revision": int(base)})
    try:
        number = guide.edit_page(services(), current_user.id, page_id, base_revision=int(base), **values)
    except FormInvalid as exc:
        return _editor(page, {**values, "revision": int(base)}, messages(exc.errors), 422)
    except InvalidInput as exc:  # retired meanwhile
        return _editor(page, {**values, "revision": int(base)}, {"general": message(exc)}, 409)
    flash(_("已保存为第 %(n)s 版。", n=number), "success")
    return redirect(url_for("knowledge.guide_page", page_id=page_id))


def _retire_or_restore(page_id: int, action: str):
    _admin()
    _page_or_404(page_id, include_retired=True)
    verb = guide.retire_page if action == "retire" else guide.restore_page
    try:
        verb(services(), current_user.id, page_id, request.form.get("note", ""))
    except InvalidInput as exc:
        flash(message(exc), "error")
        return redirect(url_for("knowledge.guide_index"))
    except FormInvalid as exc:  # the note too long
        flash("；".join(messages(exc.errors).values()), "error")
        return redirect(url_for("knowledge.guide_index"))
    flash(_("页面已停用。") if action == "retire" else _("页面已恢复，排在指南末尾。"), "success")
    return redirect(url_for("knowledge.guide_index"))


@bp.route("/guide/<int:page_id>/retire", methods=["POST"])
def guide_retire(page_id: int):
    """Take a page out of the guide; its history is kept."""
    return _retire_or_restore(page_id, "retire")


@bp.route("/guide/<int:page_id>/restore", methods=["POST"])
def guide_restore(page_id: int):
    """Put a retired page back, at the end of the guide."""
    return _retire_or_restore(page_id, "restore")


@bp.route("/guide/<int:page_id>/move", methods=["POST"])
def guide_move(page_id: int):
    """Move a page one place up or down in the guide."""
    _admin()
    _page_or_404(page_id, include_retired=True)
    direction = request.form.get("direction", "")
    if direction not in ("up", "down"):
        flash(_("请选择上移或下移。"), "error")
        return redirect(url_for("knowledge.guide_index"))
    try:
        guide.move_page(services(), current_user.id, page_id, direction)
    except InvalidInput as exc:
        flash(message(exc), "error")
    return redirect(url_for("knowledge.guide_index") + f"#page-{page_id}")
