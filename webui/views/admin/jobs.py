"""后台任务: the timers waiting in running requests (soonest first), the deliveries of notifications
waiting or failed, and a retry of one failed delivery or of all of them (admins; auditors read); the
periodic jobs of the background work with their last and next runs."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from engine.background import jobs as periodic_jobs
from engine.errors import NotFound
from engine.notify.jobs import list_deliveries, retry_delivery, retry_failed, scheduled_timers
from engine.org.directory import directory
from webui.extensions import services
from webui.views.admin.area import bp
from webui.views.admin.org import KIND_LABELS

PER_PAGE = 20
PERIODIC_LABELS = {"audit_anchor": _l("审计链锚定"), "audit_verify": _l("审计链校验"),
                   "analytics_refresh": _l("看板数据刷新"), "idempotency_cleanup": _l("过期幂等键清理")}


MAX_PAGE = 10_000  # beyond it the offset would overflow the database's integer (a 500)


def _page_arg(name: str) -> int:
    try:
        return min(max(1, int(request.args.get(name, "1"))), MAX_PAGE)
    except ValueError:
        return 1


def _pages(found) -> int:
    return max(1, -(-found.total // found.per_page))


@bp.route("/jobs")
def jobs():
    """Scheduled timers, and the deliveries waiting and failed."""
    ctx = services()
    pages = {key: _page_arg(key) for key in ("timers", "pending", "failed")}
    timers = scheduled_timers(ctx, pages["timers"], PER_PAGE)
    pending = list_deliveries(ctx, "pending", pages["pending"], PER_PAGE)
    failed = list_deliveries(ctx, "failed", pages["failed"], PER_PAGE)
    org = directory(ctx)
    return render_template("admin/jobs.html", timers=timers, pending=pending, failed=failed, pages=pages,
                           periodic=periodic_jobs(ctx), periodic_labels=PERIODIC_LABELS,
                           page_counts={"timers": _pages(timers), "pending": _pages(pending), "failed": _pages(failed)},
                           kind_labels=KIND_LABELS, dept_names={d: v["name"] for d, v in org.departments.items()},
                           names={u: p["name"] for u, p in org.users.items()})


@bp.route("/jobs/deliveries/<int:delivery_id>/retry", methods=["POST"])
def retry_one(delivery_id: int):
    """Send one failed delivery again."""
    try:
        retry_delivery(services(), delivery_id, current_user.id)
    except NotFound:
        abort(404)
    flash(_("已重新排队，稍后发送。"), "success")
    return redirect(url_for("admin.jobs", _anchor="failed"))


@bp.route("/jobs/deliveries/retry-failed", methods=["POST"])
def retry_all():
    """Send every failed delivery again."""
    n = retry_failed(services(), current_user.id)
    flash(_("%(n)s 条发送失败的通知已重新排队。", n=n), "success")
    return redirect(url_for("admin.jobs", _anchor="failed"))

