"""The organisation: departments with their head and interface person (and who held them before), a
post given to someone else, and an organisation file imported by upload with the importer's located
problems shown on the page (nothing is imported then)."""

from __future__ import annotations

from pathlib import PurePath

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user

from engine.errors import NotFound, OrgInvalid
from engine.services.org import POSTS, directory, post_history, set_post
from engine.services.org_import import import_org, parse_csv, parse_yaml
from webui import forms_render as fr
from webui.extensions import services
from webui.views.admin import bp

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
        return _org_page(problems=exc.problems, status=422)
    flash(_("已导入：%(d)s 个部门，%(u)s 名人员，%(p)s 处岗位变更，%(s)s 条代理安排。", d=result.departments,
            u=result.users, p=result.posts_changed, s=result.substitutes), "success")
    return redirect(url_for("admin.org"))


def _department_page(dept_id: str, errors: dict | None = None, status: int = 200):
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
        history={post: list(reversed(post_history(ctx, dept_id, post))) for post in POSTS}), status


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
        return _department_page(dept_id, {post: exc.message}, 400)
    label = POST_LABELS[post]
    if user_id:
        flash(_("%(who)s 现为 %(dept)s 的%(post)s。", who=org.users[user_id]["name"],
                dept=org.departments[dept_id]["name"], post=label), "success")
    else:
        flash(_("%(dept)s 的%(post)s现为空缺。", dept=org.departments[dept_id]["name"], post=label), "success")
    return redirect(url_for("admin.department", dept_id=dept_id))
