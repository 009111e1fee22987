"""Staff pages: the inbox with its four tabs (mine, my groups', copied to me, done by me), claim and
release, and the counts in the navigation (more pages live in their own modules)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from engine.errors import InvalidInput, NotFound, PermissionDenied
from engine.messages import Msg
from engine.notify.notices import TABS, filter_options, inbox_listing, nav_counts
from engine.tasks.batch import approve_batch, mark_batchable
from engine.tasks.inbox import SORTS, InboxFilter
from engine.tasks.operations import mark_cc_read
from engine.workflow.instances import claim_task, release_task
from webui.extensions import services
from webui.i18n import message, process_text

bp = Blueprint("pages", __name__)

PER_PAGE = 20
SORT_CHOICES = ("due", "priority", "created")
# Values of the request form, shown in the reader's language (stored as the form has them).
VALUE_LABELS = {
    "项目协作": _l("项目协作"), "资源申请": _l("资源申请"), "问题协调": _l("问题协调"), "流程优化": _l("流程优化"),
    "故障投诉": _l("故障投诉"), "其他": _l("其他"), "普通": _l("普通"), "紧急": _l("紧急"), "特急": _l("特急"),
    "高": _l("高"), "中": _l("中"), "低": _l("低"),
    "running": _l("进行中"), "completed": _l("已完成"), "cancelled": _l("已取消"), "errored": _l("出错"),
}


def value_label(value) -> str:
    # A value not listed may be an option a process owner added in a diagram since.
    return str(VALUE_LABELS.get(value, process_text(value) if value is not None else "—"))


@contextmanager
def not_yours() -> Iterator[None]:
    """A task (or request) the user may not act on is answered as one that does not exist (404)."""
    try:
        yield
    except PermissionDenied:
        raise NotFound("access.hidden") from None


def int_arg(args: Mapping, name: str, default: int, low: int = 1, high: int = 10_000) -> int:
    raw = args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise InvalidInput("value.not_integer", what=name, given=str(raw)[:40]) from None
    if not low <= value <= high:
        raise InvalidInput("value.out_of_range", what=name, least=low, most=high, given=value)
    return value


def inbox_filter(args: Mapping) -> InboxFilter:
    """The inbox filters of a query string (the page and the API take the same ones)."""
    def text(name: str) -> str | None:
        return (args.get(name) or "").strip()[:255] or None

    overdue = (args.get("overdue") or "").lower() in ("1", "true", "yes", "on")
    return InboxFilter(process_id=text("process_id"), business_key=text("business_key"), text=text("text"),
                       request_type=text("request_type"), urgency=text("urgency"), department=text("department"),
                       overdue_at=services().now() if overdue else None)


def sort_arg(args: Mapping) -> str:
    sort = args.get("sort") or "due"
    if sort not in SORTS:
        raise InvalidInput("choice.unknown", what=Msg("what.sort"), given=str(sort)[:40], known=list(SORTS))
    return sort


@bp.app_context_processor
def navigation_counts():
    # Every page's navigation shows the open tasks and the unread notifications of whoever is signed in.
    if not current_user.is_authenticated:
        return {}
    return {"nav_counts": nav_counts(services(), current_user.id)}


@bp.route("/")
def index():
    """The start page: the inbox."""
    return redirect(url_for("pages.inbox"))


@bp.route("/inbox")
@login_required
def inbox():
    """One tab of the inbox, filtered, sorted and paged."""
    tab = request.args.get("tab", "mine")
    if tab not in TABS:
        tab = "mine"
    sort = request.args.get("sort", "due")
    if sort not in SORT_CHOICES:
        sort = "due"
    f = inbox_filter(request.args)
    page = inbox_listing(services(), current_user.id, tab, f, sort, int_arg(request.args, "page", 1), PER_PAGE)
    if tab == "mine":
        mark_batchable(services(), page.items)
    kept = {k: v for k, v in request.args.items() if k in (
        "tab", "sort", "text", "request_type", "urgency", "department", "overdue") and v}

    def here(**changes) -> str:
        return url_for("pages.inbox", **{k: v for k, v in {**kept, **changes}.items() if v})

    options = filter_options(services()) if tab in ("mine", "group") else {}
    return render_template("inbox.html", tab=tab, page=page, sort=sort, f=f, overdue=bool(f.overdue_at),
                           options=options, here=here, label=value_label,
                           pages=max(1, -(-page.total // page.per_page)))


@bp.route("/inbox/batch", methods=["POST"])
@login_required
def batch():
    """批量审批: the chosen tasks, each completed as its step's batch decision with one comment."""
    results = approve_batch(services(), current_user.id, request.form.getlist("task_ids"),
                            request.form.get("comment", ""))
    done = [r for r in results if r["ok"]]
    if done:
        flash(_("已批量办理 %(n)s 项任务。", n=len(done)), "success")
    for r in results:
        if not r["ok"]:
            what = process_text(r["task"]) if r["task"] else _("任务")
            flash(_("%(task)s（%(request)s）未能办理：%(reason)s", task=what, request=r["request"] or "—",
                    reason=message(r["error"])), "error")
    return _back("mine")


def _back(tab: str):
    return redirect(url_for("pages.inbox", tab=tab))


@bp.route("/inbox/tasks/<task_id>/claim", methods=["POST"])
@login_required
def claim(task_id: str):
    """Claim a task offered to one of my groups: it moves to my tasks."""
    with not_yours():
        claim_task(services(), task_id, current_user.id)
    flash(_("已认领任务，可在“我的任务”中办理。"), "info")
    return _back("mine")


@bp.route("/inbox/tasks/<task_id>/release", methods=["POST"])
@login_required
def release(task_id: str):
    """Give a claimed task back to its group."""
    with not_yours():
        release_task(services(), task_id, current_user.id)
    flash(_("已释放任务，它回到了组的任务中。"), "info")
    return _back("group")


@bp.route("/inbox/cc/<int:cc_id>/read", methods=["POST"])
@login_required
def cc_read(cc_id: int):
    """Mark a task copied to me read."""
    with not_yours():
        mark_cc_read(services(), cc_id, current_user.id)
    return _back("cc")
