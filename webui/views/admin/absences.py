"""Absences and substitutes: those not over yet, one recorded for anyone by an admin, one removed.

`absence_form` reads the form that the settings page uses too (where users record their own).
"""

from __future__ import annotations

from datetime import date

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from engine.errors import InvalidInput, NotFound
from engine.org.directory import add_substitute, directory, list_absences, local_date, remove_substitute
from webui import forms_render as fr
from webui.extensions import services
from webui.i18n import message
from webui.views.admin.area import bp

REASON_MAX = 255  # substitute.reason


def _day(raw: str, errors: dict, name: str) -> date | None:
    if not raw:
        errors[name] = _("请填写日期。")
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = _("“%(value)s”不是有效的日期（年-月-日）。", value=raw)
        return None


def absence_form(form, user_id: str | None) -> tuple[dict, dict]:
    """The submitted absence (of `user_id`, or of the user the form names when None) and the errors
    per field; the engine checks it again (who may record it, an overlapping absence)."""
    values = {k: (form.get(k) or "").strip() for k in ("user_id", "substitute_id", "starts_on", "ends_on", "reason")}
    if user_id is not None:
        values["user_id"] = user_id
    errors: dict[str, str] = {}
    people = directory(services()).users
    if not values["user_id"]:
        errors["user_id"] = _("请选择外出的人。")
    elif values["user_id"] not in people:
        errors["user_id"] = _("没有用户“%(user)s”。", user=values["user_id"])
    if not values["substitute_id"]:
        errors["substitute_id"] = _("请选择代理人。")
    elif values["substitute_id"] not in people or not people[values["substitute_id"]]["active"]:
        errors["substitute_id"] = _("没有在职用户“%(user)s”。", user=values["substitute_id"])
    elif values["substitute_id"] == values["user_id"]:
        errors["substitute_id"] = _("代理人不能是外出的人自己。")
    starts, ends = _day(values["starts_on"], errors, "starts_on"), _day(values["ends_on"], errors, "ends_on")
    if starts and ends and ends < starts:
        errors["ends_on"] = _("结束日期早于开始日期。")
    elif ends and ends < local_date(services()):
        errors["ends_on"] = _("这段外出已经结束，无需登记。")
    if len(values["reason"]) > REASON_MAX:
        errors["reason"] = _("事由最多 %(n)s 个字。", n=REASON_MAX)
    return values, errors


def record_absence(form, user_id: str | None) -> tuple[dict, dict]:
    """Check and record the absence of the form; (values, errors), nothing recorded when errors."""
    values, errors = absence_form(form, user_id)
    if not errors:
        try:
            add_substitute(services(), values["user_id"], values["substitute_id"],
                           date.fromisoformat(values["starts_on"]), date.fromisoformat(values["ends_on"]),
                           values["reason"], current_user.id)
        except (InvalidInput, NotFound) as exc:  # e.g. another absence of the same days
            errors["starts_on"] = message(exc)
    return values, errors


def absence_page(values: dict | None = None, errors: dict | None = None, status: int = 200):
    ctx = services()
    return render_template("admin/absences.html", absences=list_absences(ctx), choices=fr.choices(directory(ctx)),
                           names={u: p["name"] for u, p in directory(ctx).users.items()},
                           values=values or {}, errors=errors or {}), status


@bp.route("/absences", methods=["GET", "POST"])
def absences():
    """Absences not over yet; an admin records one for anyone."""
    if request.method == "GET":
        return absence_page()
    values, errors = record_absence(request.form, None)
    if errors:
        return absence_page(values, errors, 400)
    flash(_("已登记外出：%(start)s 至 %(end)s。", start=values["starts_on"], end=values["ends_on"]), "success")
    return redirect(url_for("admin.absences"))


@bp.route("/absences/<int:absence_id>/remove", methods=["POST"])
def remove_absence(absence_id: int):
    """Remove an absence (its substitute no longer receives the tasks)."""
    remove_substitute(services(), absence_id, current_user.id)
    flash(_("已取消这段外出。"), "success")
    return redirect(url_for("admin.absences"))
