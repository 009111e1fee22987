"""The working calendar: a year of days with the statutory base (chinese-calendar) and the admins'
rulings (working day or rest day, a note, who set it), a ruling set or cleared, and the warning for a
year chinese-calendar does not know."""

from __future__ import annotations

from calendar import monthcalendar

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from engine.errors import InvalidInput
from engine.org.calendar import NOTE_MAX, clear_day, set_day, year_view
from engine.org.directory import directory, local_date
from webui.extensions import services
from webui.i18n import message
from webui.views.admin.area import bp

YEARS = (1900, 2200)  # what the year switcher accepts


def _year(raw) -> int:
    try:
        year = int(raw)
    except (TypeError, ValueError):
        return local_date(services()).year
    return year if YEARS[0] <= year <= YEARS[1] else local_date(services()).year


def _calendar_page(year: int, values: dict | None = None, errors: dict | None = None, status: int = 200):
    view = year_view(services(), year)
    by_day = {d["day"].isoformat(): d for d in view["days"]}
    months = [(month, [[by_day.get(f"{year:04d}-{month:02d}-{n:02d}") if n else None for n in week]
                       for week in monthcalendar(year, month)]) for month in range(1, 13)]
    if values is None and request.args.get("day") in by_day:  # a day picked in the year view
        day = by_day[request.args["day"]]
        if day["ruling"]:  # its ruling, to change the note or clear it
            kind, note = ("work" if day["workday"] else "rest"), day["ruling"]["note"]
        else:  # the opposite of what it is now, the usual reason to rule on a day
            kind, note = ("rest" if day["workday"] else "work"), ""
        values = {"day": day["day"].isoformat(), "kind": kind, "note": note}
    rulings = [d for d in view["days"] if d["ruling"]]
    return render_template("admin/calendar.html", view=view, months=months, rulings=rulings, values=values or {},
                           errors=errors or {}, note_max=NOTE_MAX,
                           names={u: p["name"] for u, p in directory(services()).users.items()}), status


@bp.route("/calendar")
def calendar():
    """A year of working days and rest days (?year=2026, ?day=2026-10-09 to fill the form with that day)."""
    return _calendar_page(_year(request.args.get("year")))


@bp.route("/calendar", methods=["POST"])
def calendar_set():
    """Rule a date a working day or a rest day, with a note."""
    values = {k: (request.form.get(k) or "").strip() for k in ("day", "kind", "note")}
    year = _year(values["day"][:4])
    errors = {}
    if not values["day"]:
        errors["day"] = _("请填写日期。")
    if values["kind"] not in ("work", "rest"):
        errors["kind"] = _("请选择工作日或休息日。")
    if len(values["note"]) > NOTE_MAX:
        errors["note"] = _("备注最多 %(n)s 个字。", n=NOTE_MAX)
    if not errors:
        try:
            row = set_day(services(), values["day"], values["kind"] == "work", values["note"], current_user.id)
        except InvalidInput as exc:  # not a date: the engine says which
            errors["day"] = message(exc)
    if errors:
        return _calendar_page(year, values, errors, 400)
    flash(_("%(day)s 已设为%(kind)s。", day=row["day"], kind=_("工作日") if row["workday"] else _("休息日")), "success")
    return redirect(url_for("admin.calendar", year=row["day"][:4]))


@bp.route("/calendar/clear", methods=["POST"])
def calendar_clear():
    """Remove the ruling of a date: the statutory calendar decides it again."""
    day = (request.form.get("day") or "").strip()
    year = _year(day[:4])
    if not day:
        return _calendar_page(year, {}, {"day": _("请填写日期。")}, 400)
    try:
        cleared = clear_day(services(), day, current_user.id)
    except InvalidInput as exc:
        return _calendar_page(year, {"day": day}, {"day": message(exc)}, 400)
    if cleared:
        flash(_("%(day)s 的设置已清除，按法定日历计算。", day=day), "success")
    else:
        flash(_("%(day)s 没有设置，无需清除。", day=day), "info")
    return redirect(url_for("admin.calendar", year=year))
