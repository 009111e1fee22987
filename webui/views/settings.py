"""The user's own settings: language, time zone, their password, personal API tokens, absences (with a substitute),
how notifications reach them (email, the department's group bot, quiet hours), and for a department's
head that department's group bot."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.errors import FormInvalid, InvalidInput, PermissionDenied
from engine.notify import preferences as delivery_prefs
from engine.notify.preferences import check_quiet_hours
from engine.org.accounts import MIN_PASSWORD, create_token, list_tokens, revoke_token, set_preferences
from engine.org.directory import directory, list_absences, remove_substitute
from webui import forms_render as fr
from webui.auth import change_own_password, too_many_attempts
from webui.extensions import limiter, services, web_config
from webui.i18n import message, messages, zone_choices
from webui.views.admin.absences import record_absence
from webui.views.admin.org import KIND_LABELS, bot_context, save_bot, test_bot

bp = Blueprint("settings", __name__)
@bp.route("/settings", methods=["GET", "POST"])
@login_required
def index():
    """Language and time zone."""
    if request.method == "POST":
        locale, zone = request.form.get("locale", ""), request.form.get("timezone", "")
        try:
            set_preferences(services(), current_user.id, locale=locale or None, timezone=zone)
        except InvalidInput as exc:
            flash(message(exc), "error")
            return _page(None), 400
        if locale:
            session["locale"] = locale
        flash(_("设置已保存。"), "info")
        return redirect(url_for("settings.index"))
    return _page(None)


def _headed(org) -> list[str]:
    """The departments the signed-in user heads (they set those departments' group bots here)."""
    return sorted(d for d in org.departments if org.head(d) == current_user.id)


def _page(new_token: str | None, absence: dict | None = None, absence_errors: dict | None = None,
          notices: tuple | None = None, bot: tuple | None = None, password_errors: dict | None = None):
    ctx = services()
    org = directory(ctx)
    prefs_values, prefs_errors = notices or (delivery_prefs.get_preferences(ctx, current_user.id).to_dict(), {})
    bots = {d: bot_context(d, *(bot[1:] if bot and bot[0] == d else ())) for d in _headed(org)}
    zones = zone_choices(current_user.timezone)
    return render_template("settings/index.html", zones=zones, tokens=list_tokens(ctx, current_user.id),
                           org_zone=dict(zones).get(ctx.config.timezone, ctx.config.timezone),
                           new_token=new_token, absences=list_absences(ctx, user_id=current_user.id),
                           names={u: p["name"] for u, p in org.users.items()}, choices=fr.choices(org),
                           absence=absence or {}, absence_errors=absence_errors or {},
                           prefs=prefs_values, prefs_errors=prefs_errors, kind_labels=KIND_LABELS,
                           email_configured=bool(ctx.config.smtp_host),
                           my_email=delivery_prefs.email_address(ctx, current_user.id),
                           bots=bots, dept_names={d: v["name"] for d, v in org.departments.items()},
                           password_errors=password_errors or {}, min_password=MIN_PASSWORD)


@bp.route("/settings/password", methods=["POST"])
@login_required
@limiter.limit(lambda: web_config().password_change_limit, key_func=lambda: f"password|{current_user.id}",
               methods=["POST"], deduct_when=lambda response: response.status_code != 302,
               on_breach=too_many_attempts)
def password():
    """Change one's own password: the current one, the new one twice (wrong current ones are throttled).
    This session stays signed in (with the new password's stamp); every other session of the user ends."""
    revoke = request.form.get("revoke_tokens") == "1"
    changed, errors = change_own_password(request.form, revoke_tokens=revoke)
    if errors:
        return _page(None, password_errors=errors), 400
    flash(_("密码已修改；其他设备上的登录和个人 API 令牌已失效。") if revoke
          else _("密码已修改；其他设备上的登录已失效。"), "info")
    return redirect(url_for("settings.index") + "#password")


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


_QUIET_ERRORS = {"format": lambda: _("请按“时:分”填写，例如 22:00。"),
                 "half": lambda: _("请同时填写开始和结束时间（或都留空）。"),
                 "empty": lambda: _("结束时间不能与开始时间相同。")}


@bp.route("/settings/notifications", methods=["POST"])
@login_required
def notifications():
    """How notifications reach the user: email and the department's bot per kind, and quiet hours."""
    form = request.form
    values = {"email": [k for k in KIND_LABELS if form.get(f"email_{k}")],
              "bot": [k for k in KIND_LABELS if form.get(f"bot_{k}")],
              "quiet_start": form.get("quiet_start", "").strip(), "quiet_end": form.get("quiet_end", "").strip(),
              "urgent_in_quiet": bool(form.get("urgent_in_quiet"))}
    errors = {f: _QUIET_ERRORS[code]() for f, code in check_quiet_hours(values["quiet_start"],
                                                                         values["quiet_end"]).items()}
    if not errors:
        try:
            delivery_prefs.set_preferences(services(), current_user.id, values["email"], values["bot"],
                                           values["quiet_start"], values["quiet_end"], values["urgent_in_quiet"])
        except FormInvalid as exc:  # checked above; the engine's word stands for anything else
            errors = messages(exc.errors)
    if errors:
        return _page(None, notices=(values, errors)), 400
    flash(_("通知方式已保存。"), "success")
    return redirect(url_for("settings.index", _anchor="notices"))


def _my_department(dept_id: str) -> None:
    if dept_id not in _headed(directory(services())):
        abort(404)  # not one's own department: not confirmed to exist


@bp.route("/settings/bot/<dept_id>", methods=["POST"])
@login_required
def bot(dept_id: str):
    """The head sets their department's group bot."""
    _my_department(dept_id)
    values, errors = save_bot(dept_id, request.form)
    if errors:
        return _page(None, bot=(dept_id, values, errors)), 400
    flash(_("群机器人设置已保存。"), "success")
    return redirect(url_for("settings.index", _anchor="bot"))


@bp.route("/settings/bot/<dept_id>/test", methods=["POST"])
@login_required
def bot_test(dept_id: str):
    """The head sends their department's bot a test message."""
    _my_department(dept_id)
    test_bot(dept_id)
    return redirect(url_for("settings.index", _anchor="bot"))
