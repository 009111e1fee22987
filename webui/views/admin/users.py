"""Users: the list with roles, posts and status; one user switched off or on, a new password set, a
lock after failed sign-ins lifted, the latest sign-ins shown."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user, login_user

from engine.errors import InvalidInput
from engine.org.accounts import MIN_PASSWORD, account, reset_password
from engine.org.directory import GLOBAL_ROLES, directory, org_changes
from engine.org.sign_in import account_events, sign_in_state, unlock
from engine.org.users import set_active
from engine.page import Page
from webui.auth import WebUser
from webui.extensions import services, web_config
from webui.i18n import message
from webui.views.admin.area import bp
from webui.views.admin.org import POST_LABELS
from webui.views.audit import ACCOUNT_EVENT_LABELS, REASON_LABELS

# The groups behind the roles held everywhere (engine.org.directory.GLOBAL_ROLES), by their names.
ROLE_LABELS = {GLOBAL_ROLES["platform_admin"]: lazy_gettext("平台管理员"),
               GLOBAL_ROLES["auditor"]: lazy_gettext("审计员"),
               GLOBAL_ROLES["process_owner"]: lazy_gettext("流程负责人")}
STATUSES = ("active", "inactive", "all")
USERS_PER_PAGE = 100
SIGN_INS_SHOWN = 20  # the latest events of the account's chain on its page (the audit area lists them all)
# What a recorded change of a user is about (engine.org.directory.USER_FIELDS; a group is a role).
CHANGE_LABELS = {"department_id": lazy_gettext("部门"), "superior_id": lazy_gettext("上级"),
                 "active": lazy_gettext("账号状态")}


def _people(org) -> list[dict]:
    depts = {did: d["name"] for did, d in org.departments.items()}
    order = {did: (d["sort_order"] or 0, d["name"]) for did, d in org.departments.items()}
    posts: dict[str, list[tuple[str, str]]] = {}
    for (did, post), holder in org.posts.items():
        posts.setdefault(holder, []).append((depts.get(did, did), post))
    rows = [{"id": uid, "name": u["name"], "department_id": u["department_id"],
             "department": depts.get(u["department_id"] or ""), "active": u["active"],
             "superior": (org.users.get(org.superior(uid) or "") or {}).get("name"),
             "groups": sorted(org.groups.get(uid, set())), "posts": sorted(posts.get(uid, []))}
            for uid, u in org.users.items()]
    # By department, its head and interface person first, then by user id (usually pinyin: 拼音 order).
    rank = {"head": 0, "interface": 1}
    return sorted(rows, key=lambda r: (order.get(r["department_id"] or "", (1 << 30, "")),
                                       min((rank[p] for d, p in r["posts"] if d == r["department"]), default=2),
                                       r["id"]))


@bp.route("/users")
def users():
    """Every user with department, roles, posts and status; filtered by name, department, status."""
    org = directory(services())
    query = request.args.get("q", "").strip()[:64]
    dept = request.args.get("department", "")
    status = request.args.get("status", "active")
    status = status if status in STATUSES else "active"
    rows = [r for r in _people(org)
            if (not query or query.lower() in r["id"].lower() or query in r["name"])
            and (not dept or r["department_id"] == dept)
            and (status == "all" or r["active"] == (status == "active"))]
    pages = max(1, -(-len(rows) // USERS_PER_PAGE))
    number = min(max(1, request.args.get("page", 1, type=int)), pages)
    page = Page(rows[(number - 1) * USERS_PER_PAGE:number * USERS_PER_PAGE], len(rows), number, USERS_PER_PAGE)
    departments = sorted(org.departments.items(), key=lambda d: (d[1]["sort_order"] or 0, d[1]["name"]))
    return render_template("admin/users.html", rows=page.items, page=page, pages=pages, query=query, dept=dept,
                           status=status, departments=[(did, d["name"]) for did, d in departments],
                           roles=ROLE_LABELS, posts=POST_LABELS)


def _user_page(user_id: str, errors: dict | None = None, status: int = 200):
    person = next((r for r in _people(directory(services())) if r["id"] == user_id), None)
    if person is None:
        abort(404)
    org = directory(services())
    names = {**{d: v["name"] for d, v in org.departments.items()}, **{u: v["name"] for u, v in org.users.items()}}
    sign_ins, _total = account_events(services(), user_id, limit=SIGN_INS_SHOWN)
    return render_template("admin/user.html", person=person, roles=ROLE_LABELS, posts=POST_LABELS,
                           errors=errors or {}, min_password=MIN_PASSWORD, names=names,
                           changes=org_changes(services(), "user", user_id), fields=CHANGE_LABELS,
                           state=sign_in_state(services(), user_id, web_config().sign_in_policy),
                           sign_ins=sign_ins, event_labels=ACCOUNT_EVENT_LABELS, reasons=REASON_LABELS), status


@bp.route("/users/<user_id>")
def user(user_id: str):
    """One user: department, superior, roles, posts; switch off or on, set a new password."""
    return _user_page(user_id)


@bp.route("/users/<user_id>/active", methods=["POST"])
def user_active(user_id: str):
    """Switch a user off (cannot sign in, offered in no picker) or on again."""
    wanted = request.form.get("active")
    if wanted not in ("0", "1"):
        return _user_page(user_id, {"active": _("请选择启用或停用。")}, 400)
    if user_id == current_user.id and wanted == "0":
        return _user_page(user_id, {"active": _("不能停用自己的账号（可请另一位平台管理员操作）。")}, 400)
    try:
        set_active(services(), user_id, wanted == "1", current_user.id)
    except InvalidInput as exc:
        return _user_page(user_id, {"active": message(exc)}, 400)
    flash(_("账号已启用。") if wanted == "1" else _("账号已停用，此人不能再登录。"), "success")
    return redirect(url_for("admin.user", user_id=user_id))


@bp.route("/users/<user_id>/unlock", methods=["POST"])
def user_unlock(user_id: str):
    """Lift the lock that failed sign-ins put on a user's account (recorded on the account's chain)."""
    if unlock(services(), user_id, current_user.id):
        flash(_("已解除锁定，此人现在可以登录。"), "success")
    else:
        flash(_("该账号没有被锁定。"), "info")
    return redirect(url_for("admin.user", user_id=user_id, _anchor="sign-in"))


@bp.route("/users/<user_id>/password", methods=["POST"])
def user_password(user_id: str):
    """Set a new password for a user (e.g. a forgotten one); the admin tells it to them. The user's
    sessions end and their personal API tokens are revoked."""
    password, confirm = request.form.get("password", ""), request.form.get("confirm", "")
    errors = {}
    if len(password) < MIN_PASSWORD:
        errors["password"] = _("密码至少 %(n)s 个字符。", n=MIN_PASSWORD)
    elif len(password) > 256:
        errors["password"] = _("密码最多 256 个字符。")
    elif confirm != password:
        errors["confirm"] = _("两次输入的密码不一致。")
    if errors:
        return _user_page(user_id, errors, 400)
    reset_password(services(), user_id, password, current_user.id)
    if user_id == current_user.id:  # their own: this session goes on with the new password
        login_user(WebUser(account(services(), user_id)))
    flash(_("已为该用户设置新密码；其登录已全部失效，个人 API 令牌已作废。") if user_id == current_user.id else
          _("已为该用户设置新密码；其登录已全部失效，个人 API 令牌已作废；此人下次登录时须改设自己的密码。"), "success")
    return redirect(url_for("admin.user", user_id=user_id))
