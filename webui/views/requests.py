"""The requests area: the lists with search and filters, a request's page, its diagram as JSON,
its Excel export, its attachments, and the bpmn-js viewer's files."""

from __future__ import annotations

import io
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    send_from_directory,
    url_for,
)
from flask_babel import get_timezone, gettext
from flask_babel import lazy_gettext as _
from flask_login import current_user, login_required

from engine.errors import FormInvalid, InvalidInput, NotFound
from engine.org.directory import directory, local_date
from engine.requests.attachments import add_attachment, clean_filename
from engine.requests.diagram import diagram
from engine.requests.export import export_request
from engine.requests.records import post_progress
from engine.requests.request_view import (
    STATUSES,
    RequestFilter,
    attachment_file,
    list_requests,
    request_page,
    takes_part,
)
from engine.sizes import size_text
from webui import forms_render as fr
from webui.bpmn_messages import translate_names
from webui.extensions import services
from webui.i18n import message, messages, process_text, split_label
from webui.permissions import default_scope, list_scopes, require_request

bp = Blueprint("requests", __name__, url_prefix="/requests")

PER_PAGE = 20
STATUS_LABELS = {"running": _("进行中"), "completed": _("已完成"), "errored": _("出错"), "cancelled": _("已取消")}
SCOPE_LABELS = {"mine": _("我发起的"), "dept": _("本部门的"), "all": _("全部")}
# Values of the request form (stored in Chinese), shown in the reader's language.
TYPE_LABELS = {"项目协作": _("项目协作"), "资源申请": _("资源申请"), "问题协调": _("问题协调"),
               "流程优化": _("流程优化"), "故障投诉": _("故障投诉"), "其他": _("其他")}
URGENCY_LABELS = {"普通": _("普通"), "紧急": _("紧急"), "特急": _("特急")}
PRIORITY_LABELS = {"高": _("高"), "中": _("中"), "低": _("低")}
GROUP_LABELS = {"platform_admins": _("平台管理员"), "auditors": _("审计员"), "process_owners": _("流程负责人")}
PROGRESS_LABELS = {"未开始": _("未开始"), "进行中": _("进行中"), "待支持": _("待支持"), "已完成": _("已完成"),
                   "待验收": _("待验收"), "退回修改": _("退回修改"), "已验收": _("已验收")}
RED_LABELS = {"risk": _("报告了风险"), "needs_support": _("待支持"), "deadline": _("临近或超过计划完成日期"),
              "stale": _("超过24小时未更新进度")}
EVENT_LABELS = {
    "instance_started": _("提交需求"), "task_ready": _("任务待办"), "task_completed": _("完成任务"),
    "task_claimed": _("认领任务"), "task_released": _("释放任务"), "task_cancelled": _("任务取消"),
    "task_transferred": _("转办"), "task_delegated": _("委派"), "delegation_resolved": _("委派办结"),
    "task_copied": _("抄送"), "task_urged": _("催办"), "request_withdrawn": _("撤回需求"),
    "timer_fired": _("定时触发"), "instance_completed": _("流程结束"), "instance_errored": _("流程出错"),
    "instance_cancelled": _("流程取消"), "instance_retried": _("重试"),
    "assignment_fallback": _("无人可派，转平台管理员"), "progress_posted": _("更新进度"),
    "task_auto_passed": _("自动通过（与上一环节审批人相同）"), "task_skipped": _("无人可派，已跳过"),
    "task_timeout_skipped": _("超时处理未执行：处理人没有上级"),
    "comment_added": _("发表评论"), "meeting_scheduled": _("预约会议"), "minutes_recorded": _("记录会议纪要"),
    "feedback_given": _("部门反馈"), "plan_saved": _("保存协调方案"), "action_items_added": _("问题解决行动表"),
    "retrospective_added": _("复盘"), "satisfaction_rated": _("满意度评价"), "deliverable_submitted": _("提交成果"),
    "acceptance_recorded": _("验收"), "position_stated": _("陈述立场"), "lesson_proposed": _("提出经验"),
    "attachment_added": _("上传附件"), "request_viewed": _("审计查阅"), "instance_migrated": _("迁移到新版本"),
}
VIEWER_DIST = Path("node_modules") / "bpmn-js" / "dist"


def _label(labels: dict, value):
    # A value the dict does not know may be an option a process owner added in a diagram since.
    return labels.get(value, process_text(value)) if value else "—"


@bp.context_processor
def labels():
    return {"status_label": lambda v: _label(STATUS_LABELS, v), "type_label": lambda v: _label(TYPE_LABELS, v),
            "urgency_label": lambda v: _label(URGENCY_LABELS, v),
            "priority_label": lambda v: _label(PRIORITY_LABELS, v), "group_label": lambda v: _label(GROUP_LABELS, v)}


PROGRESS_INPUTS = {"plan_task_key": False, "status": True, "work_done": True, "problems": False, "risk": False,
                   "risk_note": False, "expected_finish": False}


def post_progress_of(instance_id: str, given: dict, task_id: str | None = None) -> None:
    """Post the progress typed in the form `given` (templates/requests/_progress.html)."""
    post_progress(services(), instance_id, current_user.id, status=given["status"],
                  plan_task_key=given["plan_task_key"] or None, work_done=given["work_done"],
                  problems=given["problems"], risk=given["risk"] == "true", risk_note=given["risk_note"],
                  expected_finish=given["expected_finish"] or None, task_id=task_id)


def _page_number(value: str | None) -> int:
    return int(value) if value and value.isdigit() and 0 < int(value) < 100_000 else 1


@bp.route("")
@login_required
def index():
    """Requests the user may see: search by number or title, filters, pages."""
    args = request.args
    scopes = list_scopes(current_user)
    scope = args.get("scope") if args.get("scope") in scopes else default_scope(services(), current_user)
    org = directory(services())
    f = RequestFilter(
        scope=scope, text=args.get("q", "")[:100],
        status=args.get("status") if args.get("status") in STATUSES else None,
        request_type=args.get("type") if args.get("type") in TYPE_LABELS else None,
        urgency=args.get("urgency") if args.get("urgency") in URGENCY_LABELS else None,
        department=args.get("dept") if args.get("dept") in org.departments else None)
    page = list_requests(services(), current_user.id, current_user.department_id, f,
                         page=_page_number(args.get("page")), per_page=PER_PAGE)
    query = {k: v for k, v in (("scope", f.scope), ("q", f.text), ("status", f.status), ("type", f.request_type),
                               ("urgency", f.urgency), ("dept", f.department)) if v}
    return render_template("requests/index.html", page=page, f=f, query=query, scopes=scopes,
                           scope_labels=SCOPE_LABELS, statuses=STATUS_LABELS, types=TYPE_LABELS,
                           urgencies=URGENCY_LABELS, org=org, pages=max(1, -(-page.total // PER_PAGE)))


@bp.route("/<uuid:instance_id>")
@login_required
def detail(instance_id):
    """A request: where it stands, the request itself, the requester's actions, diagram, plan (Gantt,
    RACI), records and timeline."""
    return _render_detail(str(instance_id))


@bp.post("/<uuid:instance_id>/progress")
@login_required
def progress(instance_id):
    """Post progress on a plan task from the request's page (its owner, or the lead department's
    head); a refused form comes back with what was typed."""
    require_request(services(), current_user, instance_id)
    given = {name: request.form.get(name, "").strip() for name in PROGRESS_INPUTS}
    errors = {name: _("必填") for name, required in PROGRESS_INPUTS.items() if required and not given[name]}
    if not errors:
        try:
            post_progress_of(str(instance_id), given)
        except FormInvalid as exc:
            errors = messages(exc.errors)
        except InvalidInput as exc:
            errors = {"": message(exc)}
        else:
            flash(gettext("进度已更新。"), "success")
            return redirect(url_for("requests.detail", instance_id=instance_id))
    return _render_detail(str(instance_id), (given, errors), 422)


def _render_detail(instance_id: str, progress: tuple[dict, dict] | None = None, status: int = 200):
    ctx = services()
    require_request(ctx, current_user, instance_id)
    view = request_page(ctx, instance_id, reader=current_user.id)
    zone = ZoneInfo(str(get_timezone()))
    told = view.story
    filed = fr.field_views(told.form, told.filed, {}, zone) if told else []
    h = view.header
    org = directory(ctx)
    running = h["status"] == "running"
    lead_head = org.head(view.plan["lead_department"]) if view.plan else None
    reports = [(t["task_key"], t["title"]) for t in (view.plan["tasks"] if view.plan and running else [])
               if current_user.id in (t["owner"], lead_head)]
    return render_template(
        "requests/detail.html", view=view, h=h, names=view.names, filed=filed, files=told.files if told else {},
        choices=fr.choices(org), now=ctx.now(), open_ids={t["task_id"] for t in view.open_tasks},
        may_open=takes_part(ctx, h["instance_id"], current_user.id),
        is_requester=h["initiator"] == current_user.id and running,
        may_urge=running and (h["initiator"] == current_user.id or current_user.is_admin),
        may_add_files=running and not current_user.is_auditor, reports=reports,
        progress_values=progress[0] if progress else {}, progress_errors=progress[1] if progress else {},
        today=local_date(ctx).isoformat(),
        field_label=lambda element, name: process_text(split_label(
            view.labels.get(element or "", {}).get(name) or view.labels.get("", {}).get(name) or "")[0]),
        events=EVENT_LABELS, progress_labels=PROGRESS_LABELS, red_labels=RED_LABELS, accept=fr.ACCEPT,
        upload_limit=size_text(ctx.config.attachment_max_bytes)), status


@bp.post("/<uuid:instance_id>/files")
@login_required
def add_files(instance_id):
    """Add material to a request (补充材料) from its page: each file checked and kept on its own; one
    refused (its type, its size) is named and the others are kept."""
    back = url_for("requests.detail", instance_id=instance_id)
    chosen = [f for f in request.files.getlist("files") if f.filename]
    if not chosen:
        flash(gettext("请选择要上传的文件。"), "error")
        return redirect(back)
    kept = []
    for upload in chosen:
        try:
            kept.append(add_attachment(services(), str(instance_id), current_user.id, upload.filename, upload.read(),
                                       upload.mimetype)["filename"])
        except NotFound:
            abort(404)
        except InvalidInput as exc:
            flash(gettext("附件“%(name)s”未能保存：%(message)s", name=clean_filename(upload.filename),
                          message=message(exc)), "error")
    if kept:
        flash(gettext("已上传：%(names)s", names=gettext("、").join(kept)), "success")
    return redirect(back)


@bp.route("/<uuid:instance_id>/diagram.json")
@login_required
def diagram_json(instance_id):
    """The request's BPMN XML (the names drawn in the reader's language) with the ids of its active and
    completed elements."""
    require_request(services(), current_user, instance_id)
    found = diagram(services(), str(instance_id))
    found["xml"] = translate_names(found["xml"], f"{found['process_id']}.bpmn", process_text)  # names drawn
    return jsonify(found)


@bp.route("/<uuid:instance_id>/export.xlsx")
@login_required
def export(instance_id):
    """The request as an Excel workbook of the four forms."""
    require_request(services(), current_user, instance_id)
    filename, content = export_request(services(), str(instance_id), reader=current_user.id)
    return send_file(io.BytesIO(content), as_attachment=True, download_name=filename,
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@bp.route("/<uuid:instance_id>/attachments/<int:attachment_id>")
@login_required
def attachment(instance_id, attachment_id: int):
    """Download an attachment of the request (always as a download, under its sanitised name)."""
    require_request(services(), current_user, instance_id)
    found = attachment_file(services(), str(instance_id), attachment_id, reader=current_user.id)
    return send_file(io.BytesIO(found.content), mimetype=found.content_type, as_attachment=True,
                     download_name=found.filename, etag=found.sha256)


@bp.route("/assets/bpmn-js/<path:filename>")
@login_required
def viewer_asset(filename: str):
    """A file of bpmn-js's dist folder (the viewer and its styles), installed from npm."""
    folder = Path(current_app.root_path).parent / VIEWER_DIST
    if not folder.is_dir():
        abort(404)
    return send_from_directory(folder, filename, max_age=86400)
