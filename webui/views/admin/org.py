"""The organisation: departments with their head and interface person (and who held them before), a
post given to someone else, an organisation file imported by upload with the importer's located
problems shown on the page (nothing is imported then), and each department's group bot (the form
and test message the settings page also offers the department's head)."""

from __future__ import annotations

from pathlib import PurePath

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user

from engine.errors import NotFound, OrgInvalid
from engine.notify.bots import (
    BOT_HOSTS,
    BOT_TOKENS,
    DEFAULT_KINDS,
    BotInvalid,
    SendFailed,
    get_bot,
    send_test_message,
    set_bot,
)
from engine.org.directory import POSTS, directory, post_history, set_post
from engine.org.importer import import_org, parse_csv, parse_yaml
from webui import forms_render as fr
from webui.extensions import services
from webui.i18n import message
from webui.views.admin.area import bp

POST_LABELS = {"head": lazy_gettext("负责人"), "interface": lazy_gettext("对接人")}
UPLOADS = ("org_file", "departments_file", "users_file")


def _departments(org) -> list[dict]:
    names = {u: p["name"] for u, p in org.users.items()}
    members: dict[str, int] = {}
    for person in org.users.values():
        if person["department_id"] and person["active"]:
            members[person["department_id"]] = members.get(person["department_id"], 0) + 1
    rows = []
    for did, dept in sorted(org.departments.items(), key=lambda d: (d[1]["sort_order"] or 0, d[1]["name"])):
        parent = org.departments.get(dept["parent_id"] or "")
        rows.append({"id": did, "name": dept["name"], "parent": parent["name"] if parent else None,
                     "head": names.get(org.head(did)), "interface": names.get(org.interface_person(did)),
                     "members": members.get(did, 0)})
    return rows


def _org_page(problems: list[str] | None = None, errors: dict | None = None, status: int = 200):
    return render_template("admin/org.html", departments=_departments(directory(services())), problems=problems or [],
                           errors=errors or {}), status


@bp.route("/org")
def org():
    """The departments with their head and interface person; the import form."""
    return _org_page()


def _read(upload, errors: dict) -> tuple[str, str] | None:
    """The text and file name of an uploaded file, or None (an error noted) when it is not UTF-8 text."""
    if upload is None or not upload.filename:
        return None
    name = PurePath(upload.filename.replace("\\", "/")).name[:120] or "upload"
    try:
        return upload.read().decode("utf-8-sig"), name
    except UnicodeDecodeError:
        errors[upload.name] = _("“%(name)s”不是 UTF-8 编码的文本文件。", name=name)
        return None


@bp.route("/org/import", methods=["POST"])
def org_import():
    """Import an organisation file (YAML, or the departments and users CSVs): all or nothing."""
    errors: dict[str, str] = {}
    files = {key: _read(request.files.get(key), errors) for key in UPLOADS}
    chosen = [key for key in UPLOADS if request.files.get(key) and request.files[key].filename]
    if not chosen:
        errors["org_file"] = _("请选择一个 YAML 文件，或部门、人员两个 CSV 文件（至少一个）。")
    elif "org_file" in chosen and len(chosen) > 1:
        errors["org_file"] = _("YAML 文件与 CSV 文件只能二选一。")
    if errors:
        return _org_page(errors=errors, status=400)
    try:
        if files["org_file"]:
            data = parse_yaml(*files["org_file"])
        else:
            deps, people = files["departments_file"], files["users_file"]
            data = parse_csv(deps[0] if deps else None, people[0] if people else None,
                             (deps[1] if deps else "departments.csv", people[1] if people else "users.csv"))
        result = import_org(services(), data, current_user.id)
    except OrgInvalid as exc:
        return _org_page(problems=[message(p) for p in exc.problems], status=422)
    flash(_("已导入：%(d)s 个部门，%(u)s 名人员，%(p)s 处岗位变更，%(s)s 条代理安排。", d=result.departments,
            u=result.users, p=result.posts_changed, s=result.substitutes), "success")
    return redirect(url_for("admin.org"))


def _department_page(dept_id: str, errors: dict | None = None, status: int = 200, bot: tuple | None = None):
    ctx = services()
    org = directory(ctx)
    dept = org.departments.get(dept_id)
    if dept is None:
        abort(404)
    names = {u: p["name"] for u, p in org.users.items()}
    parent = org.departments.get(dept["parent_id"] or "")
    members = sorted(u for u, p in org.users.items() if p["department_id"] == dept_id)
    return render_template(
        "admin/department.html", dept_id=dept_id, dept=dept, parent=parent, names=names, members=members,
        active={u: p["active"] for u, p in org.users.items()}, posts=POST_LABELS, errors=errors or {},
        holders={post: org.posts.get((dept_id, post)) for post in POSTS}, choices=fr.choices(org),
        history={post: list(reversed(post_history(ctx, dept_id, post))) for post in POSTS},
        **bot_context(dept_id, *(bot or ()))), status


@bp.route("/org/<dept_id>")
def department(dept_id: str):
    """A department: its head and interface person, their history, its members."""
    return _department_page(dept_id)


@bp.route("/org/<dept_id>/post", methods=["POST"])
def department_post(dept_id: str):
    """Give the department's head or interface post to a user, or leave it empty."""
    post = request.form.get("post", "")
    if post not in POSTS:
        return _department_page(dept_id, {"general": _("请选择要设置的岗位（负责人或对接人）。")}, 400)
    if "user_id" not in request.form:
        return _department_page(dept_id, {post: _("请选择人员（或选择“空缺”）。")}, 400)
    user_id = request.form["user_id"].strip() or None
    org = directory(services())
    if dept_id not in org.departments:
        abort(404)
    if user_id is not None and not (org.users.get(user_id) or {}).get("active"):
        return _department_page(dept_id, {post: _("没有在职用户“%(user)s”。", user=user_id)}, 400)
    try:
        set_post(services(), dept_id, post, user_id, current_user.id)
    except NotFound as exc:  # removed in the meantime
        return _department_page(dept_id, {post: message(exc)}, 400)
    label = POST_LABELS[post]
    if user_id:
        flash(_("%(who)s 现为 %(dept)s 的%(post)s。", who=org.users[user_id]["name"],
                dept=org.departments[dept_id]["name"], post=label), "success")
    else:
        flash(_("%(dept)s 的%(post)s现为空缺。", dept=org.departments[dept_id]["name"], post=label), "success")
    return redirect(url_for("admin.department", dept_id=dept_id))


# ---------------------------------------------------------------------------------- the department's group bot
PLATFORM_LABELS = {"dingtalk": lazy_gettext("钉钉"), "feishu": lazy_gettext("飞书"), "wecom": lazy_gettext("企业微信")}
KIND_LABELS = {"task": lazy_gettext("新任务"), "return": lazy_gettext("退回"), "reminder": lazy_gettext("提醒"),
               "urge": lazy_gettext("催办"), "escalation": lazy_gettext("升级"),
               "red_warning": lazy_gettext("红色预警"), "info": lazy_gettext("通知")}


def _bot_error(field: str, code: str, platform: str) -> str:
    label = PLATFORM_LABELS.get(platform, platform)
    if field == "platform":
        return _("请选择平台：钉钉、飞书或企业微信。")
    if field == "kinds":
        return _("有未知的通知类型，请重新勾选。")
    if field == "secret":
        if code == "unused":
            return _("企业微信群机器人不使用加签密钥，请留空。")
        if platform == "dingtalk":
            return _("钉钉的加签密钥以 SEC 开头，后跟字母和数字（在机器人安全设置的“加签”处复制）。")
        return _("飞书的签名校验密钥只含字母和数字（在机器人安全设置的“签名校验”处复制）。")
    return {
        "empty": _("请填写 Webhook 地址。"),
        "scheme": _("Webhook 地址须以 https:// 开头。"),
        "host": _("这不是%(platform)s群机器人的 Webhook 地址（主机应为 %(hosts)s）。", platform=label,
                  hosts=" / ".join(BOT_HOSTS.get(platform, ()))),
        "path": _("这不是%(platform)s群机器人的 Webhook 地址格式，请从群设置中复制完整地址。", platform=label),
        "token": _("Webhook 地址缺少令牌（%(param)s=…），请复制完整地址。", param=BOT_TOKENS.get(platform, "")),
    }.get(code, code)


def save_bot(dept_id: str, form) -> tuple[dict, dict]:
    """Store the department's bot from `form`; (values, errors per field), nothing stored when errors."""
    values = {"platform": form.get("platform", ""), "kinds": form.getlist("kinds"),
              "enabled": bool(form.get("enabled")), "clear_secret": bool(form.get("clear_secret"))}
    try:
        set_bot(services(), dept_id, current_user.id, values["platform"], form.get("webhook_url", ""),
                form.get("secret", ""), values["kinds"], values["enabled"], values["clear_secret"])
    except BotInvalid as exc:
        return values, {f: _bot_error(f, code, values["platform"]) for f, code in exc.codes.items()}
    except NotFound:
        abort(404)
    return values, {}


def test_bot(dept_id: str) -> None:
    """Send the department's bot a test message now and flash what came of it."""
    try:
        send_test_message(services(), dept_id, current_user.id)
    except NotFound:
        flash(_("请先保存群机器人的设置。"), "error")
        return
    except SendFailed as exc:
        flash(_("测试消息未送达：%(why)s", why=str(exc)), "error")
        return
    flash(_("测试消息已发送，请到群里查看。"), "success")


def bot_context(dept_id: str, values: dict | None = None, errors: dict | None = None) -> dict:
    """What the bot form shows: the stored bot (secrets masked), the submitted values, the errors."""
    bot = get_bot(services(), dept_id)
    return {"bot": bot.shown() if bot else None, "bot_values": values or {}, "bot_errors": errors or {},
            "platforms": PLATFORM_LABELS, "kind_labels": KIND_LABELS, "default_bot_kinds": DEFAULT_KINDS}


@bp.route("/org/<dept_id>/bot", methods=["POST"])
def department_bot(dept_id: str):
    """Set the department's group bot."""
    if dept_id not in directory(services()).departments:
        abort(404)
    values, errors = save_bot(dept_id, request.form)
    if errors:
        return _department_page(dept_id, bot=(values, errors), status=400)
    flash(_("群机器人设置已保存。"), "success")
    return redirect(url_for("admin.department", dept_id=dept_id, _anchor="bot"))


@bp.route("/org/<dept_id>/bot/test", methods=["POST"])
def department_bot_test(dept_id: str):
    """Send the department's bot a test message."""
    if dept_id not in directory(services()).departments:
        abort(404)
    test_bot(dept_id)
    return redirect(url_for("admin.department", dept_id=dept_id, _anchor="bot"))
