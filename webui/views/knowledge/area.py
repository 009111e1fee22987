"""The knowledge area's blueprint, its gate and its front page; the other pages are the modules beside it."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import login_required

from engine.errors import InvalidInput, NotFound
from engine.knowledge.browse import approved_entry, browse
from engine.knowledge.guide import list_pages
from engine.knowledge.lessons import QUERY_MAX
from engine.knowledge.recognition import board, current_quarter, parse_period
from engine.org.directory import directory
from webui.extensions import services
from webui.i18n import message

bp = Blueprint("knowledge", __name__, url_prefix="/knowledge")

PER_PAGE = 10
# Request types are stored in Chinese (the request form's options), shown in the reader's language.
TYPE_LABELS = {"项目协作": _l("项目协作"), "资源申请": _l("资源申请"), "问题协调": _l("问题协调"),
               "流程优化": _l("流程优化"), "故障投诉": _l("故障投诉"), "其他": _l("其他")}
REASON_LABELS = {"named": _l("管理员表彰"), "highlight": _l("复盘协作亮点提及"), "on_time": _l("计划任务按时交付")}


@bp.before_request
@login_required
def signed_in():
    """Every page here is for signed-in users only."""
    return None


@bp.context_processor
def helpers():
    org = directory(services())
    return {"type_label": lambda v: TYPE_LABELS.get(v, v) if v else "—",
            "dept_name": lambda d: org.departments[d]["name"] if d in org.departments else d,
            "person": lambda u: org.users[u]["name"] if u in org.users else u, "reason_labels": REASON_LABELS}


def _page_number(value: str | None) -> int:
    return int(value) if value and value.isdigit() and 0 < int(value) < 100_000 else 1


def _period(value: str | None) -> tuple[str, str | None]:
    """The board's period (default: this quarter) and an error when the one asked for is malformed."""
    if not value:
        return current_quarter(services()), None
    try:
        return parse_period(value)[0], None
    except InvalidInput:
        message = _l("期间“%(p)s”无法识别，应为 2026-11（月）、2026-Q4（季度）或 2026（年）。", p=value[:20])
        return current_quarter(services()), message


def _neighbours(period: str) -> tuple[str, str]:
    """The periods before and after `period`, of the same kind."""
    label, first, after = parse_period(period)
    if "-Q" in label:
        q = (first.month - 1) // 3 + 1
        return (f"{first.year - (q == 1)}-Q{(q - 2) % 4 + 1}", f"{after.year}-Q{(after.month - 1) // 3 + 1}")
    if "-" in label:
        before = first.replace(day=1)
        prev = f"{before.year - (before.month == 1)}-{(before.month - 2) % 12 + 1:02d}"
        return prev, f"{after.year}-{after.month:02d}"
    return str(first.year - 1), str(first.year + 1)


@bp.route("")
def index():
    """Search and browse approved lessons (?q=数据共享&type=项目协作&dept=PRD&page=2); the guide's pages; the
    协作之星 board (?period=2026-Q4)."""
    args = request.args
    ctx = services()
    query = args.get("q", "").strip()
    page = _page_number(args.get("page"))
    errors = {}
    if len(query) > QUERY_MAX:
        errors["q"] = _l("搜索内容最多 %(n)s 个字，现有 %(m)s 个。", n=QUERY_MAX, m=len(query))
    found = None
    if not errors:
        try:
            found = browse(ctx, query or None, request_type=args.get("type") or None,
                           department=args.get("dept") or None, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
        except InvalidInput as exc:  # a facet value too long: typed into the address
            errors["filters"] = message(exc)
    period, period_error = _period(args.get("period"))
    filters = {k: v for k, v in (("q", query), ("type", args.get("type")), ("dept", args.get("dept"))) if v}
    return render_template(
        "knowledge/index.html", found=found, query=query, errors=errors, filters=filters, query_max=QUERY_MAX,
        page_no=page, pages=max(1, -(-found["total"] // PER_PAGE)) if found else 1,
        guide=list_pages(ctx), board=board(ctx, period), period_error=period_error,
        neighbours=_neighbours(period)), 400 if errors else 200


@bp.route("/entries/<int:entry_id>")
def entry(entry_id: int):
    """An approved lesson in full, with a link to its request."""
    try:
        found = approved_entry(services(), entry_id)
    except NotFound:
        abort(404)
    return render_template("knowledge/entry.html", e=found)


def entry_link(entry_id: int) -> str:
    return url_for("knowledge.entry", entry_id=entry_id)
