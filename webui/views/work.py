"""Work: filing a request (its start form, drafts, attachments) and working on a task (its form and operations).

Drafts are JSON files, one per user and process, under the instance folder (see `_draft_path`).
Files on the start form are checked before the request is filed and stored right after it, since
an attachment belongs to an instance; on a task form they are stored first and their ids submitted.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_timezone, lazy_gettext
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.bpmn.forms import Form
from engine.errors import FormInvalid, InvalidInput, NotFound
from engine.org.directory import directory, local_date
from engine.requests.attachments import Upload, add_attachment, check_type, clean_filename
from engine.requests.records import add_comment
from engine.requests.requests import REQUEST_PROCESS, submit_request
from engine.sizes import size_text
from engine.tasks.operations import (
    cc_task,
    delegate_task,
    resolve_delegation,
    transfer_task,
    urge_task,
    withdraw_request,
)
from engine.tasks.task_page import TaskClosed, TaskPage, inbox_entry, task_page
from engine.workflow.instances import claim_task, complete_task, describe_instance, release_task, start_form
from webui import forms_render as fr
from webui.auth import safe_next
from webui.extensions import services
from webui.i18n import format_when, message, messages, process_text
from webui.views.requests import GROUP_LABELS, PROGRESS_INPUTS, PROGRESS_LABELS, post_progress_of


def _zone() -> ZoneInfo:
    """The reader's zone as a zoneinfo zone (Babel's pytz zone would give Asia/Shanghai its
    historical +08:06 when attached with replace())."""
    return ZoneInfo(str(get_timezone()))


bp = Blueprint("work", __name__)

PROCESSES = {REQUEST_PROCESS: lazy_gettext("跨部门沟通需求"), "conflict_resolution": lazy_gettext("问题协调")}
DRAFT_MAX = 64 * 1024  # bytes of JSON: a request's text, never its files


# --------------------------------------------------------------------------- starting a request

def _draft_path(process_id: str) -> Path:
    # A file per user, not the session: the session is a cookie of about 4 KB, which the text of
    # one request (background, goal, details in Chinese) outgrows. The user id is hashed into the
    # name, so no id can reach outside the folder; process ids come from PROCESSES only.
    digest = hashlib.sha256(current_user.id.encode()).hexdigest()[:32]
    return Path(current_app.instance_path) / "drafts" / digest / f"{process_id}.json"


def _load_draft(process_id: str) -> dict | None:
    try:
        draft = json.loads(_draft_path(process_id).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return draft if isinstance(draft, dict) and isinstance(draft.get("values"), dict) else None


def _save_draft(process_id: str, values: dict) -> bool:
    text = json.dumps({"saved_at": services().now().isoformat(), "values": values}, ensure_ascii=False)
    if len(text.encode()) > DRAFT_MAX:
        return False
    path = _draft_path(process_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".draft-")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(temp, path)  # a reader sees the old draft or the new one, never half of one
    return True


def _uploads(form: Form) -> tuple[dict[str, list[tuple[str, bytes, str]]], dict[str, str]]:
    """The files chosen per field, checked as add_attachment will check them, and the errors found."""
    chosen: dict[str, list[tuple[str, bytes, str]]] = {}
    errors: dict[str, str] = {}
    limit = services().config.attachment_max_bytes
    for fld in fr.file_fields(form):
        for upload in request.files.getlist(fld.id):
            if not upload.filename:
                continue
            content = upload.read()
            if not content or len(content) > limit:
                errors[fld.id] = _("文件“%(name)s”为空或超过每个文件的上限 %(size)s", name=upload.filename,
                                   size=size_text(limit))
            try:
                check_type(clean_filename(upload.filename), upload.mimetype, content)
            except InvalidInput as exc:
                errors[fld.id] = message(exc)
            chosen.setdefault(fld.id, []).append((upload.filename, content, upload.mimetype))
    return chosen, errors


def _render_new(process_id: str, form: Form, values: dict, errors: dict, draft: dict | None = None,
                status: int = 200):
    org = directory(services())
    me = current_user.id
    return render_template(
        "work/new.html", processes=PROCESSES, process_id=process_id, draft=draft,
        fields=fr.field_views(form, values, errors, _zone()), general=fr.general_errors(form, errors),
        choices=fr.choices(org), files={}, accept=fr.ACCEPT, multipart=bool(fr.file_fields(form)),
        department=org.departments.get(org.department_of(me) or "", {}).get("name")), status


@bp.route("/requests/new", methods=["GET", "POST"])
@login_required
def new():
    """File a request: the start form of the chosen process; save it as a draft or submit it."""
    process_id = request.args.get("process", REQUEST_PROCESS)
    if process_id not in PROCESSES:
        abort(404)
    form = start_form(services(), process_id)
    if request.method == "GET":
        draft = _load_draft(process_id)
        return _render_new(process_id, form, draft["values"] if draft else {}, {}, draft)
    values = fr.parse(form, request.form, _zone())
    action = request.form.get("action", "submit")
    if action == "draft":
        if _save_draft(process_id, values):
            flash(_("草稿已保存（附件不随草稿保存）。"), "success")
            return redirect(url_for("work.new", process=process_id))
        return _render_new(process_id, form, values, {"": _("草稿太大，无法保存，请精简内容。")}, status=413)
    if action == "discard":
        _draft_path(process_id).unlink(missing_ok=True)
        flash(_("草稿已删除。"), "success")
        return redirect(url_for("work.new", process=process_id))
    chosen, errors = _uploads(form)
    if not errors:
        try:
            started = submit_request(services(), current_user.id, values, process_id)
        except FormInvalid as exc:
            errors = exc.errors
        else:
            _filed(process_id, started.instance_id, chosen)
            return redirect(url_for("requests.detail", instance_id=started.instance_id))  # the new request
    for fid in chosen:  # a browser never fills a file input again
        errors.setdefault(fid, _("提交未成功：请重新选择文件。"))
    return _render_new(process_id, form, values, errors, status=422)


def _filed(process_id: str, instance_id: str, chosen: dict) -> None:
    """After filing: store the files with the request, drop the draft, say the request's number."""
    ctx = services()
    for name, content, mimetype in (f for files in chosen.values() for f in files):
        try:
            add_attachment(ctx, instance_id, current_user.id, name, content, mimetype)
        except InvalidInput as exc:
            flash(_("附件“%(name)s”未能保存：%(message)s", name=name, message=message(exc)), "error")
    _draft_path(process_id).unlink(missing_ok=True)
    number = describe_instance(ctx, instance_id)["business_key"]
    flash(_("需求已提交，编号 %(number)s。", number=number), "success")


# --------------------------------------------------------------------------- working on a task

def _task_page(task_id: str, work: bool = False) -> TaskPage:
    """The task's page for the reader (engine.tasks.task_page); 404 for anyone who may not see it."""
    try:
        return task_page(services(), task_id, current_user.id, work=work)
    except TaskClosed:
        raise
    except NotFound:
        abort(404)


def _history(events: list[dict], names: dict[str, str]) -> list[dict]:
    """The task's events as the page lists them: when, who, what, to whom, why."""
    rows = []
    for event in events:
        data = event["data"]
        to = data.get("to") or data.get("assignee") or []
        actor = _("系统") if event["actor"] == "system" else names.get(event["actor"], event["actor"])
        rows.append({"at": event["at"], "actor": actor,
                     "what": _EVENT_LABELS.get(event["type"], event["type"]),
                     "people": [names.get(u, u) for u in ([to] if isinstance(to, str) else to)],
                     "note": next((data[k] for k in ("reason", "comment", "note", "message", "body", "filename")
                                   if isinstance(data.get(k), str) and data[k]), "")})
    return rows


_EVENT_LABELS = {
    "task_ready": lazy_gettext("待办生成"), "task_claimed": lazy_gettext("认领"),
    "task_released": lazy_gettext("释放"), "task_transferred": lazy_gettext("转办"),
    "task_delegated": lazy_gettext("委派"), "delegation_resolved": lazy_gettext("办完交回"),
    "task_copied": lazy_gettext("抄送"), "task_urged": lazy_gettext("催办"), "task_completed": lazy_gettext("完成"),
    "task_cancelled": lazy_gettext("取消"), "comment_added": lazy_gettext("评论"),
    "attachment_added": lazy_gettext("上传附件"), "task_auto_passed": lazy_gettext("自动通过"),
    "task_skipped": lazy_gettext("跳过"),
}


def _render_task(view: TaskPage, values: dict, errors: dict, op: tuple | None = None, status: int = 200):
    ctx = services()
    me, info, row = current_user.id, view.task, view.row
    form = Form.from_dict(info["form"]) if info else Form()
    picks = fr.choices(directory(ctx))
    shown = info["values"] if info else {}
    candidates = bool(row["candidate_users"] or row["candidate_groups"])
    told = view.story
    zone = _zone()
    filed = fr.field_views(told.form, told.filed, {}, zone)
    deciding = told.deciding(row["element_id"])
    return render_template(
        "work/task.html", task=info, row=row, me=me, filed=filed, progress_labels=PROGRESS_LABELS,
        today=local_date(ctx).isoformat(),
        deciding=[_step_view(s, picks, zone) for s in deciding],
        earlier=[_step_view(s, picks, zone) for s in reversed(told.steps) if s not in deciding],
        fields=fr.field_views(form, {**shown, **values}, errors, _zone()),
        general=fr.general_errors(form, errors), choices=picks, files=view.files, accept=fr.ACCEPT,
        multipart=bool(fr.file_fields(form)), history=_history(view.history, picks.user_names),
        can_claim=bool(info) and not row["assignee"] and candidates,
        can_release=bool(info) and row["assignee"] == me and candidates,
        delegated_to_me=bool(info) and bool(row["delegated_by"]) and row["assignee"] == me,
        is_requester=row["initiator"] == me, context=view.context, group_names=GROUP_LABELS,
        op_key=op[0] if op else None, op_values=op[1] if op else {}, op_errors=op[2] if op else {}), status


def _step_view(step, picks, zone) -> dict:
    """An earlier step as a task page shows it: its name, who took it (for whom), when, and its own fields."""
    return {"name": process_text(step.name), "element_id": step.element_id, "at": step.at,
            "actor": picks.user_names.get(step.actor, step.actor),
            "for": picks.user_names.get(step.on_behalf_of, step.on_behalf_of) if step.on_behalf_of else None,
            "fields": fr.field_views(Form(step.given), step.values, {}, zone)}


@bp.route("/tasks/<task_id>", methods=["GET", "POST"])
@login_required
def task(task_id: str):
    """A task: its form (fill in and complete it) and what else may be done with it. A task done
    (or taken over) since a notice or an email of it was sent opens its request, with a word why."""
    try:
        view = _task_page(task_id, work=request.method == "POST")
    except TaskClosed as closed:
        if not closed.may_see:  # told of a group task another took
            flash(_("这项任务已经办结，或已由他人处理。"), "info")
            return redirect(url_for("pages.inbox"))
        if closed.done_by:
            who = directory(services()).users.get(closed.done_by, {}).get("name", closed.done_by)
            flash(_("这项任务已由 %(who)s 于 %(when)s 办结；以下是它所属的需求。", who=who,
                    when=format_when(closed.done_at)), "info")
        else:
            flash(_("这项任务已经办结，或已不由您处理；以下是它所属的需求。"), "info")
        return redirect(url_for("requests.detail", instance_id=closed.request_id))
    if request.method == "GET":
        return _render_task(view, {}, {})
    info = view.task
    form = Form.from_dict(info["form"])
    values = fr.parse(form, request.form, _zone())
    files = {fld.id: [Upload(f.filename, f.read(), f.mimetype) for f in request.files.getlist(fld.id) if f.filename]
             for fld in fr.file_fields(form)}
    try:  # the files are kept with the completion, in its transaction: a refused form keeps none
        complete_task(services(), task_id, current_user.id, values, files={k: v for k, v in files.items() if v})
    except FormInvalid as exc:
        return _render_task(view, values, exc.errors, status=422)
    plan_task = view.context.get("plan_task") or {}
    done = process_text(info["name"]) + (f" · {plan_task['title']}" if plan_task.get("title") else "")
    flash(_("已完成：%(task)s", task=done), "success")
    return redirect(url_for("pages.inbox"))


def _operate(task_id: str, key: str, inputs: dict[str, bool], run, done: str, leave: bool = False):
    """Run one operation on a task from its POST form (inputs: name -> required); on a refusal the
    task page comes back with the message next to the operation's inputs, what was typed kept."""
    given = {name: request.form.get(name, "").strip() for name in inputs if name != "to_users"}
    if "to_users" in inputs:
        given["to_users"] = [u for u in request.form.getlist("to_users") if u.strip()]
    errors = {name: _("必填") for name, required in inputs.items() if required and not given[name]}
    if not errors:
        try:
            run(given)
        except FormInvalid as exc:
            errors = messages(exc.errors)
        except InvalidInput as exc:
            errors = {"": message(exc)}
        else:
            flash(done, "success")
            return redirect(url_for("pages.inbox") if leave else url_for("work.task", task_id=task_id))
    return _render_task(_task_page(task_id), {}, {}, op=(key, given, errors), status=422)


@bp.post("/tasks/<task_id>/progress")
@login_required
def progress(task_id: str):
    """Post progress on the plan task this task works on, without submitting the deliverable."""
    view = _task_page(task_id, work=True)
    key = view.context.get("plan_task_key")
    if not key:
        abort(404)
    return _operate(task_id, "progress", PROGRESS_INPUTS,
                    lambda given: post_progress_of(view.row["instance_id"], {**given, "plan_task_key": key}, task_id),
                    _("进度已更新。"))


@bp.post("/tasks/<task_id>/claim")
@login_required
def claim(task_id: str):
    """Take a group task (认领)."""
    claim_task(services(), task_id, current_user.id)
    flash(_("已认领，此任务只在你的待办中。"), "success")
    return redirect(url_for("work.task", task_id=task_id))


@bp.post("/tasks/<task_id>/release")
@login_required
def release(task_id: str):
    """Give a claimed task back to its group (释放)."""
    release_task(services(), task_id, current_user.id)
    flash(_("已释放，任务回到组的待办中。"), "success")
    return redirect(url_for("pages.inbox"))


@bp.post("/tasks/<task_id>/comment")
@login_required
def comment(task_id: str):
    """Comment on the request, from this task."""
    row = inbox_entry(services(), task_id) or abort(404)
    return _operate(task_id, "comment", {"body": True}, lambda v: add_comment(
        services(), row["instance_id"], current_user.id, v["body"], task_id=task_id), _("评论已发表。"))


@bp.post("/tasks/<task_id>/transfer")
@login_required
def transfer(task_id: str):
    """Hand the task to someone else for good (转办); the reason is required."""
    return _operate(task_id, "transfer", {"to_user": True, "reason": True}, lambda v: transfer_task(
        services(), task_id, current_user.id, v["to_user"], v["reason"]), _("已转办。"), leave=True)


@bp.post("/tasks/<task_id>/delegate")
@login_required
def delegate(task_id: str):
    """Ask someone to do the task and give it back (委派); the reason is required."""
    return _operate(task_id, "delegate", {"to_user": True, "reason": True}, lambda v: delegate_task(
        services(), task_id, current_user.id, v["to_user"], v["reason"]), _("已委派，办完后会交回给你。"), leave=True)


@bp.post("/tasks/<task_id>/resolve")
@login_required
def resolve(task_id: str):
    """Give a delegated task back to whoever delegated it."""
    return _operate(task_id, "resolve", {"comment": False}, lambda v: resolve_delegation(
        services(), task_id, current_user.id, v["comment"]), _("已交回委派人。"), leave=True)


@bp.post("/tasks/<task_id>/cc")
@login_required
def cc(task_id: str):
    """Send a copy of the task to people who should know (抄送)."""
    return _operate(task_id, "cc", {"to_users": True, "note": False}, lambda v: cc_task(
        services(), task_id, current_user.id, v["to_users"], v["note"]), _("已抄送。"))


@bp.post("/tasks/<task_id>/urge")
@login_required
def urge(task_id: str):
    """Remind whoever holds the task (催办): the requester or an admin; also posted from a request's page."""
    try:
        urge_task(services(), task_id, current_user.id, request.form.get("message", "").strip())
    except InvalidInput as exc:  # e.g. urged less than an hour ago
        flash(message(exc), "error")
    else:
        flash(_("已催办。"), "success")
    return redirect(safe_next(request.form.get("next")))


@bp.post("/requests/<instance_id>/withdraw")
@login_required
def withdraw(instance_id: str):
    """The requester takes the request back before anyone acted on it (撤回); the reason is required."""
    reason = request.form.get("reason", "").strip()
    if not reason:
        flash(_("撤回需填写原因。"), "error")
        return redirect(safe_next(request.form.get("next")))
    try:
        withdraw_request(services(), instance_id, current_user.id, reason)
    except InvalidInput as exc:  # someone has acted on it already
        flash(message(exc), "error")
        return redirect(safe_next(request.form.get("next")))
    flash(_("需求已撤回。"), "success")
    return redirect(url_for("pages.inbox"))
