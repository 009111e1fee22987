"""The user's own settings: language, time zone, personal API tokens, absences (with a substitute)."""

from __future__ import annotations

from zoneinfo import available_timezones

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.errors import InvalidInput, PermissionDenied
from engine.services.accounts import create_token, list_tokens, revoke_token, set_preferences
from engine.services.org import directory, list_absences, remove_substitute
from webui import forms_render as fr
from webui.extensions import services
from webui.views.admin.absences import record_absence

bp = Blueprint("settings", __name__)
# The zones people here choose from first; every other IANA zone follows.
COMMON_ZONES = ["Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Singapore", "Asia/Tokyo", "Europe/London",
                "Europe/Berlin", "America/New_York", "America/Los_Angeles", "UTC"]


def _zones() -> list[str]:
    return COMMON_ZONES + sorted(z for z in available_timezones() if z not in COMMON_ZONES and "/" in z)


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def index():
    """Language and time zone."""
    if request.method == "POST":
        locale, zone = request.form.get("locale", ""), request.form.get("timezone", "")
        try:
            set_preferences(services(), current_user.id, locale=locale or None, timezone=zone)
        except InvalidInput as exc:
            flash(exc.message, "error")
            return _page(None), 400
        if locale:
            session["locale"] = locale
        flash(_("设置已保存。"), "info")
        return redirect(url_for("settings.index"))
    return _page(None)


def _page(new_token: str | None, absence: dict | None = None, absence_errors: dict | None = None):
    org = directory(services())
    return render_template("settings/index.html", zones=_zones(), tokens=list_tokens(services(), current_user.id),
                           new_token=new_token, absences=list_absences(services(), user_id=current_user.id),
                           names={u: p["name"] for u, p in org.users.items()}, choices=fr.choices(org),
                           absence=absence or {}, absence_errors=absence_errors or {})


@bp.route("/settings/tokens", methods=["POST"])
@login_required
def new_token():
    """Create a personal API token; it is shown once."""
    name = request.form.get("name", "").strip()
    try:
        token = create_token(services(), current_user.id, name)
    except InvalidInput:
        flash(_("请给令牌起个名字。"), "error")
        return redirect(url_for("settings.index"))
    return _page(token)


@bp.route("/settings/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke(token_id: int):
    """Revoke one of the user's tokens."""
    try:
        revoke_token(services(), current_user.id, token_id)
    except PermissionDenied:
        abort(404)  # another's token: not confirmed to exist
    flash(_("令牌已作废。"), "info")
    return redirect(url_for("settings.index"))


@bp.route("/settings/absences", methods=["POST"])
@login_required
def absence():
    """Record one's own absence: the substitute receives one's tasks on those days."""
    values, errors = record_absence(request.form, current_user.id)
    if errors:
        return _page(None, values, errors), 400
    flash(_("已登记外出：%(start)s 至 %(end)s。", start=values["starts_on"], end=values["ends_on"]), "success")
    return redirect(url_for("settings.index", _anchor="absences"))


@bp.route("/settings/absences/<int:absence_id>/remove", methods=["POST"])
@login_required
def remove_absence(absence_id: int):
    """Cancel one of one's own absences that is not over."""
    if absence_id not in {a["id"] for a in list_absences(services(), user_id=current_user.id)}:
        abort(404)  # another's: not confirmed to exist
    remove_substitute(services(), absence_id, current_user.id)
    flash(_("已取消这段外出。"), "success")
    return redirect(url_for("settings.index", _anchor="absences"))
