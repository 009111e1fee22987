"""The admin area's blueprint, its gate and its front page; the other pages are the modules beside it."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_login import current_user

from engine.knowledge.lessons import list_entries
from engine.notify.jobs import delivery_counts
from engine.org.calendar import calendar_warnings
from engine.org.directory import directory, list_absences, local_date
from webui.extensions import login_manager, services
from webui.permissions import may_enter

bp = Blueprint("admin", __name__, url_prefix="/admin")


def may_use(user) -> bool:
    """Whether `user` may open the admin area (admins change, auditors read)."""
    return may_enter(user, "admin")


@bp.before_request
def gate():
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not may_use(current_user) or (request.method != "GET" and not current_user.is_admin):
        abort(403)
    return None


@bp.route("/")
def index():
    """The admin area's overview: what each section holds and what waits."""
    ctx = services()
    found = directory(ctx)
    active = sum(1 for u in found.users.values() if u["active"])
    year = local_date(ctx).year
    return render_template(
        "admin/index.html", departments=len(found.departments), users=active, inactive=len(found.users) - active,
        absences=list_absences(ctx), waiting=len(list_entries(ctx, "proposed")),
        warnings=calendar_warnings(ctx, [year, year + 1]), year=year, deliveries=delivery_counts(ctx))
