"""The 协作之星 board's citation notes: a platform admin's words on a department's place for a period."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from engine.errors import InvalidInput, NotFound
from engine.knowledge.recognition import NOTE_MAX, set_note
from webui.extensions import services
from webui.i18n import message
from webui.views.knowledge.area import bp


@bp.route("/stars/note", methods=["POST"])
def star_note():
    """Add, change or (left empty) remove the citation note of a department for a period."""
    if not current_user.is_admin:
        abort(403)
    period, dept = request.form.get("period", ""), request.form.get("dept", "")
    note = request.form.get("note", "")
    back = url_for("knowledge.index", period=period or None) + "#stars"
    if len(note.strip()) > NOTE_MAX:
        flash(_("表彰说明最多 %(n)s 个字，现有 %(m)s 个。", n=NOTE_MAX, m=len(note.strip())), "error")
        return redirect(back)
    try:
        saved = set_note(services(), current_user.id, period, dept, note)
    except (InvalidInput, NotFound) as exc:
        flash(message(exc), "error")
        return redirect(back)
    flash(_("已保存表彰说明。") if saved else _("已删除表彰说明。"), "success")
    return redirect(back)
