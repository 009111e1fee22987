"""The process owners' area (流程设计): processes and their versions, drafts edited in the bpmn-js
modeller, checks and deploys, read-only versions and downloads, uploads from Camunda Modeler or
bpmn.io, and moving running requests to a newer version. Only process owners get in."""

from __future__ import annotations

import io
from functools import wraps

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import current_user, login_required

from engine.bpmn.versions import (
    check_diagram,
    deploy_draft,
    discard_draft,
    draft_from_version,
    get_draft,
    list_drafts,
    list_processes,
    list_versions,
    save_draft,
    upload_diagram,
    version_source,
)
from engine.errors import InvalidInput, InvalidProcess
from engine.org.directory import directory
from engine.workflow.migration import migrate_instances, preview_migration
from webui.bounds import large_body
from webui.extensions import services
from webui.permissions import may_enter

bp = Blueprint("modeller", __name__, url_prefix="/modeller")

UPLOAD_MAX = 5 * 1024 * 1024
# Why a request cannot move, by the engine's reason code (the element id is shown beside it).
REASONS = {
    "task_removed": lazy_gettext("当前待办环节在新版本中已删除"),
    "passed_removed": lazy_gettext("已经过的环节在新版本中已删除"),
    "task_type_changed": lazy_gettext("当前待办环节在新版本中类型已改变"),
    "boundary_changed": lazy_gettext("当前待办环节的边界事件（如定时提醒）在新版本中已改变"),
    "subprocess_removed": lazy_gettext("正在运行的子流程在新版本中已删除"),
    "unmapped": lazy_gettext("有环节无法对应到新版本"),
    "not_running": lazy_gettext("需求不在进行中"),
    "not_older": lazy_gettext("需求已在该版本或更新的版本上"),
    "other_process": lazy_gettext("需求属于其他流程"),
    "not_on_version": lazy_gettext("需求不在该版本上"),
}
ELEMENT_TYPES = {
    "userTask": lazy_gettext("用户任务"), "scriptTask": lazy_gettext("脚本任务"),
    "serviceTask": lazy_gettext("服务任务"), "sequenceFlow": lazy_gettext("顺序流"),
    "exclusiveGateway": lazy_gettext("排他网关"), "parallelGateway": lazy_gettext("并行网关"),
    "startEvent": lazy_gettext("开始事件"), "endEvent": lazy_gettext("结束事件"),
    "boundaryEvent": lazy_gettext("边界事件"), "intermediateCatchEvent": lazy_gettext("中间事件"),
    "callActivity": lazy_gettext("调用活动"), "subProcess": lazy_gettext("子流程"), "lane": lazy_gettext("泳道"),
    "process": lazy_gettext("流程"), "participant": lazy_gettext("参与者"), "property": lazy_gettext("流程变量"),
}


def owners_only(view):
    """Signed in and a process owner; anyone else is refused (403) before anything is read."""
    @wraps(view)
    @login_required
    def checked(*args, **kwargs):
        if not may_enter(current_user, "modeller"):
            abort(403)
        return view(*args, **kwargs)
    return checked


@bp.context_processor
def labels():
    return {"element_type": lambda t: ELEMENT_TYPES.get(t, t), "reason_label": lambda c: REASONS.get(c, c)}


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("api.not_object")
    return body


def _revision(body: dict) -> int:
    value = body.get("revision")
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput("draft.revision")
    return value


@bp.route("")
@owners_only
def index():
    """Processes with their latest version, open drafts, and the upload of a .bpmn file."""
    ctx = services()
    return render_template("modeller/index.html", processes=list_processes(ctx), drafts=list_drafts(ctx),
                           names=directory(ctx))


@bp.route("/upload", methods=["POST"])
@owners_only
def upload():
    """A draft from a .bpmn file (Camunda Modeler, bpmn.io)."""
    found = request.files.get("file")
    if found is None or not found.filename:
        flash(_("请选择一个 .bpmn 文件。"), "error")
        return redirect(url_for("modeller.index")), 400
    data = found.read(UPLOAD_MAX + 1)
    if len(data) > UPLOAD_MAX:
        flash(_("文件太大（最多 5 MB）。"), "error")
        return redirect(url_for("modeller.index")), 400
    try:
        draft = upload_diagram(services(), current_user.id, found.filename, data)
    except InvalidProcess as exc:
        flash(_("无法读取该文件：%(problem)s", problem="; ".join(str(p) for p in exc.problems)), "error")
        return redirect(url_for("modeller.index")), 400
    flash(_("已上传为草稿。"), "ok")
    return redirect(url_for("modeller.edit", draft_id=draft["id"]))


@bp.route("/versions/<int:version_id>/draft", methods=["POST"])
@owners_only
def new_draft(version_id: int):
    """A draft that starts as a copy of a version."""
    draft = draft_from_version(services(), version_id, current_user.id)
    return redirect(url_for("modeller.edit", draft_id=draft["id"]))


@bp.route("/drafts/<int:draft_id>")
@owners_only
def edit(draft_id: int):
    """The modeller on a draft."""
    draft = get_draft(services(), draft_id)
    if draft["status"] != "open":
        flash(_("该草稿已部署或已放弃，无法再编辑。"), "error")
        return redirect(url_for("modeller.index"))
    return render_template("modeller/edit.html", draft=draft)


@bp.route("/drafts/<int:draft_id>/diagram.json")
@owners_only
def draft_json(draft_id: int):
    """A draft's XML and revision, for the modeller."""
    draft = get_draft(services(), draft_id)
    return jsonify({"xml": draft["xml"], "revision": draft["revision"], "filename": draft["filename"]})


@bp.route("/drafts/<int:draft_id>/save", methods=["POST"])
@large_body(2 * UPLOAD_MAX)  # the XML of the largest upload, escaped in JSON
@owners_only
def save(draft_id: int):
    """Store the modeller's XML over the draft (refused if someone saved it in between)."""
    body = _json_body()
    saved = save_draft(services(), draft_id, current_user.id, str(body.get("xml") or ""), _revision(body))
    return jsonify({"revision": saved["revision"], "updated_at": saved["updated_at"]})


@bp.route("/check", methods=["POST"])
@large_body(2 * UPLOAD_MAX)  # the XML of the largest upload, escaped in JSON
@owners_only
def check():
    """The engine's deploy checks on the modeller's XML: every problem with its element id."""
    body = _json_body()
    problems = check_diagram(services(), str(body.get("xml") or ""), str(body.get("filename") or "diagram.bpmn"))
    return jsonify({"problems": problems})


@bp.route("/drafts/<int:draft_id>/deploy", methods=["POST"])
@owners_only
def deploy(draft_id: int):
    """Deploy the draft as a new version; a problem refuses it (422 with the located problems)."""
    body = _json_body()
    deployed = deploy_draft(services(), draft_id, current_user.id, _revision(body))
    draft = get_draft(services(), draft_id)
    created = [v for v in deployed["versions"] if v["created"]]
    if created:
        flash(_("已部署为版本 %(version)s，新发起的需求将使用此版本。", version=created[0]["version"]), "ok")
    else:
        flash(_("内容与已部署的版本相同，没有产生新版本。"), "ok")
    return jsonify({**deployed, "next": url_for("modeller.process", process_id=draft["process_id"])})


@bp.route("/drafts/<int:draft_id>/discard", methods=["POST"])
@owners_only
def discard(draft_id: int):
    """Put a draft away."""
    discard_draft(services(), draft_id, current_user.id)
    flash(_("草稿已放弃。"), "ok")
    return redirect(url_for("modeller.index"))


@bp.route("/processes/<process_id>")
@owners_only
def process(process_id: str):
    """A process's versions: author, time, what changed, requests on each."""
    ctx = services()
    return render_template("modeller/process.html", process_id=process_id, versions=list_versions(ctx, process_id),
                           names=directory(ctx))


@bp.route("/versions/<int:version_id>")
@owners_only
def version(version_id: int):
    """A version, read-only."""
    return render_template("modeller/version.html", v=version_source(services(), version_id))


@bp.route("/versions/<int:version_id>/diagram.json")
@owners_only
def version_json(version_id: int):
    """A version's XML, for the read-only viewer."""
    found = version_source(services(), version_id)
    return jsonify({"xml": found["xml"], "filename": found["filename"]})


@bp.route("/versions/<int:version_id>/download")
@owners_only
def download(version_id: int):
    """A version's .bpmn file, as deployed (opens in Camunda Modeler and bpmn.io)."""
    found = version_source(services(), version_id)
    name = f"{found['process_id']}_v{found['version']}.bpmn"
    return send_file(io.BytesIO(found["xml"].encode("utf-8")), mimetype="application/xml", as_attachment=True,
                     download_name=name)


def _latest_of(process_id: str) -> int:
    return list_versions(services(), process_id)[0]["version_id"]


@bp.route("/versions/<int:version_id>/migrate")
@owners_only
def migration(version_id: int):
    """Which running requests of this version can move to a newer one (default: the latest), and why not."""
    source = version_source(services(), version_id)
    target = request.args.get("to", type=int) or _latest_of(source["process_id"])
    preview = preview_migration(services(), version_id, target)
    return render_template("modeller/migrate.html", preview=preview, source=source,
                           versions=list_versions(services(), source["process_id"]))


@bp.route("/versions/<int:version_id>/migrate", methods=["POST"])
@owners_only
def migrate(version_id: int):
    """Move the chosen requests (each in its own transaction, each audited)."""
    target = request.form.get("to", type=int)
    chosen = request.form.getlist("instance")
    if not target or not chosen:
        flash(_("请选择目标版本和要迁移的需求。"), "error")
        return redirect(url_for("modeller.migration", version_id=version_id)), 400
    outcome = migrate_instances(services(), version_id, target, current_user.id, chosen)
    flash(_("已迁移 %(moved)s 个需求，%(refused)s 个未迁移。", moved=len(outcome["moved"]),
            refused=len(outcome["refused"])), "ok" if not outcome["refused"] else "error")
    return redirect(url_for("modeller.migration", version_id=version_id, to=target))
