"""The notifications page: the signed-in user's own notifications, newest first; mark read."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from engine.notify.notices import list_notifications, mark_all_read, mark_read
from webui.extensions import services
from webui.views.inbox import int_arg

bp = Blueprint("notifications", __name__)

PER_PAGE = 20
# The badge of each kind of notification (engine.workflow.notices.KINDS).
KINDS = {"task": _l("新任务"), "return": _l("退回"), "info": _l("通知"), "reminder": _l("提醒"), "urge": _l("催办"),
         "escalation": _l("升级"),
         "red_warning": _l("红色预警")}


def _back():
    # Back to the list as it was shown (only these query arguments, and only to this page).
    kept = {k: v for k, v in request.form.items() if k in ("page", "unread") and v.isdigit()}
    return redirect(url_for("notifications.index", **kept))


@bp.route("/notifications")
@login_required
def index():
    """My notifications, newest first (only the unread ones with ?unread=1)."""
    unread_only = request.args.get("unread") == "1"
    page = list_notifications(services(), current_user.id, int_arg(request.args, "page", 1), PER_PAGE, unread_only)
    return render_template("notifications/index.html", page=page, unread_only=unread_only, kinds=KINDS,
                           pages=max(1, -(-page.total // page.per_page)))


@bp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@login_required
def read(notification_id: int):
    """Mark one of my notifications read."""
    mark_read(services(), notification_id, current_user.id)
    return _back()


@bp.route("/notifications/read-all", methods=["POST"])
@login_required
def read_all():
    """Mark all my notifications read."""
    mark_all_read(services(), current_user.id)
    return _back()
