"""The user's own settings: language, time zone, personal API tokens."""

from __future__ import annotations

from zoneinfo import available_timezones

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.errors import InvalidInput, PermissionDenied
from engine.services.accounts import create_token, list_tokens, revoke_token, set_preferences
from webui.extensions import services

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


def _page(new_token: str | None):
    return render_template("settings/index.html", zones=_zones(), tokens=list_tokens(services(), current_user.id),
                           new_token=new_token)


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
