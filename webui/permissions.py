"""Who may see a request: the one rule every page, download and export of a request asks (the
engine's request_view.may_see_request, also used by the API).

A user may see a request when they are
- its requester, or a member of its requester's, lead or involved departments;
- one of its people as its records have them: anyone who holds or held one of its tasks (assignee,
  candidate, member of a candidate group, whoever claimed or completed one and whom they acted
  for), the owners of its plan tasks, and whoever substitutes one of them today;
- a platform admin, or an auditor (who reads and changes nothing).
Anyone else gets 404, never 403, so the ids of requests they may not see are not confirmed.

Lists follow the same rule through their scopes: "mine" (requests the user filed), "dept"
(requests their department files, leads or is involved in; the default for department heads)
and "all" (platform admins and auditors only).
"""

from __future__ import annotations

from flask import Flask, abort, jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from engine.analytics.figures import may_see_dashboard
from engine.context import Services
from engine.errors import NotFound
from engine.notify.notices import open_task_request
from engine.org.accounts import Account, account
from engine.org.directory import directory
from engine.requests.request_view import may_see_request as engine_may_see
from webui.errors import wants_json
from webui.extensions import services


def _account(ctx: Services, user) -> Account | None:
    return account(ctx, user) if isinstance(user, str) else user


def sees_everything(user) -> bool:
    """Platform admins and auditors see every request."""
    return bool(user.is_admin or user.is_auditor)


def may_see_request(ctx: Services, user, instance_id) -> bool:
    """Whether `user` (the signed-in user, or a user id) may see the request (see the module's rule)."""
    user = _account(ctx, user)
    if user is None:
        return False
    return engine_may_see(ctx, str(instance_id), user.id)


def require_request(ctx: Services, user, instance_id) -> None:
    """404 unless `user` may see the request."""
    if not may_see_request(ctx, user, instance_id):
        abort(404)


def require_auditor(user) -> None:
    """404 unless `user` may use the audit area (auditors and platform admins): a request's full
    history, its replay and its verification."""
    if not (user.is_authenticated and sees_everything(user)):
        abort(404)


def list_scopes(user) -> tuple[str, ...]:
    """The list scopes `user` may choose."""
    scopes = ("mine", "dept") if user.department_id else ("mine",)
    return (*scopes, "all") if sees_everything(user) else scopes


def default_scope(ctx: Services, user) -> str:
    """All for admins and auditors, the department for its head, else the user's own requests."""
    if sees_everything(user):
        return "all"
    if user.department_id and directory(ctx).head(user.department_id) == user.id:
        return "dept"
    return "mine"


# The areas of the app beyond everyone's own pages, and who may enter each: the navigation shows an
# area's link only to them, and each area's views check the same rule.
AREAS = {
    "admin": lambda user: bool(user.is_admin or user.is_auditor),  # admins change, auditors read
    "audit": sees_everything,
    "modeller": lambda user: bool(user.is_process_owner),
    "dashboard": lambda user: sees_everything(user) or may_see_dashboard(services(), user.id),  # and heads
}


def may_enter(user, area: str) -> bool:
    """Whether the signed-in `user` may open `area` (AREAS); any other area is everyone's."""
    if not user.is_authenticated:
        return False
    rule = AREAS.get(area)
    return rule is None or rule(user)


# What an auditor may still send: their own session, language, password, preferences, tokens and
# notices, and the audit area's verification (which records a result and changes no request).
AUDITOR_MAY_POST = frozenset({
    "auth.login", "auth.logout", "auth.language", "auth.choose_password", "settings.index", "settings.password",
    "settings.notifications", "settings.new_token", "settings.revoke", "api.new_token", "api.revoke",
    "notifications.read", "notifications.read_all", "pages.cc_read", "audit.verify_request", "audit.verify_all",
})
_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def init_app(app: Flask) -> None:
    """Two rules checked before any view runs, on pages and the API alike: a request (or an open
    task of one) the user may not see does not exist for them, whatever the operation, so no answer
    names its requester or number; and auditors change nothing (the engine refuses them too)."""
    @app.before_request
    def unseen_requests_do_not_exist():
        args = request.view_args or {}
        if not current_user.is_authenticated or not ("instance_id" in args or "task_id" in args):
            return None
        instance_id = args.get("instance_id")
        if instance_id is None:
            try:
                instance_id = open_task_request(services(), args["task_id"])
            except NotFound:
                return None  # not open: the view answers as it does for any unknown task
        if not may_see_request(services(), current_user, instance_id):
            abort(404, description=_("不存在，或您无权处理。"))
        return None

    @app.before_request
    def auditors_change_nothing():
        if request.method not in _CHANGING or request.endpoint in AUDITOR_MAY_POST:
            return None
        user = current_user
        if not (user.is_authenticated and user.is_auditor):
            return None
        message = _("审计员只能查看，不能更改任何内容。")
        if wants_json():
            return jsonify({"code": "read_only_auditor", "params": {}, "message": message}), 403
        return render_template("error.html", error=None, code=403, description=message), 403
