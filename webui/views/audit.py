"""The audit area, for auditors and platform admins (404 for anyone else): every request with its
last recorded verification (and "verify now", for one request or, in bounded steps, for all), a
request's history (filters; CSV, Excel and JSON exports) and its replay step by step on the diagram
of the version it ran on, and the changes of the processes themselves (deploys, migrations of
requests) from the processes' own audit chains, and the sign-ins of every account (who, when, from
where; failed attempts and locks) from the accounts' own chains.

Every request an auditor reads, here or elsewhere (its page, task pages, files, exports, the API),
is logged on the request's own audit chain by log_auditor_views: as tamper-evident as what it
records, and verified with it. The data a page fetches for itself (the diagram's and the replay's
JSON) is part of the page's logged view.
"""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import get_timezone
from flask_babel import lazy_gettext as _
from flask_login import current_user, login_required

from engine.audit import history as h
from engine.audit import history_replay
from engine.audit import verify as audit_verify
from engine.messages import Msg
from engine.org.directory import directory
from engine.org.sign_in import account_events
from engine.page import Page
from engine.requests.request_view import STATUSES, request_header
from webui.extensions import services
from webui.i18n import format_day, format_when, process_text, split_label
from webui.permissions import require_auditor
from webui.views.requests import EVENT_LABELS, GROUP_LABELS, STATUS_LABELS

bp = Blueprint("audit", __name__, url_prefix="/audit")

PER_PAGE = 20
CATEGORY_LABELS = {"user": _("用户操作"), "engine": _("引擎步骤"), "timer": _("定时器"), "notification": _("通知"),
                   "record": _("记录"), "view": _("审计查阅"), "data": _("数据变更")}
TYPE_LABELS = {**EVENT_LABELS, h.NOTIFIED: _("发送通知")}
# Fields of an operation's before and after (the holder of a task, a request's status).
FIELD_LABELS = {"assignee": _("处理人"), "delegated_by": _("委派人"), "status": _("状态"),
                # what the engine adds to a request's data besides its forms
                "request_no": _("需求编号"), "submitted_at": _("提交时间"), "requester": _("发起人"),
                "requester_dept": _("发起部门"), "initiator": _("发起人"), "plan_task": _("计划任务")}
VIEW_LABELS = {"request": _("需求页"), "task": _("任务页"), "history": _("审计历史"),
               "history_export": _("导出审计历史"), "replay": _("逐步回放"), "attachment": _("附件"),
               "request_export": _("导出需求")}
_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
COLUMN_LABELS = {"seq": _("序号"), "at": _("时间"), "category": _("类别"), "type": _("事件"),
                 "actor": _("操作人账号"), "actor_name": _("操作人"), "element_id": _("环节编号"),
                 "element_name": _("环节"), "task_id": _("任务编号"), "changes": _("数据变更（前 → 后）"),
                 "data": _("事件数据")}
KIND_LABELS = {"edited": _("被改动"), "deleted": _("被删除"), "inserted": _("被插入"), "reordered": _("顺序被打乱"),
               "head": _("链头不符")}
# The events of the accounts' own chains (engine.org.sign_in.EVENTS) and why a sign-in failed.
ACCOUNT_EVENT_LABELS = {"signed_in": _("登录成功"), "sign_in_failed": _("登录失败"), "account_locked": _("账号锁定"),
                        "account_unlocked": _("账号解锁"), "signed_out": _("退出登录"),
                        "password_set": _("设置初始密码"), "password_reset": _("管理员重置密码"),
                        "password_changed": _("本人修改密码")}
REASON_LABELS = {"password": _("密码不正确"), "unknown": _("无此账号"), "inactive": _("账号已停用"),
                 "locked": _("账号锁定中")}
FAILURES = ("sign_in_failed", "account_locked")
SIGN_INS_PER_PAGE = 50
def _zone() -> ZoneInfo:
    return ZoneInfo(str(get_timezone()))


@bp.context_processor
def problem_kinds():
    return {"kinds": KIND_LABELS}


def _verification(instance_id: str) -> dict:
    return h.verification(services(), instance_id)


def _list_query(args) -> dict:
    """The index's search, status and page, as given (in a query or a form), checked."""
    status = args.get("status") if args.get("status") in STATUSES else None
    page_no = int(args["page"]) if args.get("page", "").isdigit() and 0 < int(args["page"]) < 100_000 else None
    return {k: v for k, v in (("q", args.get("q", "")[:100]), ("status", status), ("page", page_no)) if v}


@bp.route("")
@login_required
def index():
    """Every request, searched by number or title, each with its last recorded verification."""
    require_auditor(current_user)
    query = _list_query(request.args)
    text, status = query.get("q", ""), query.get("status")
    page = h.audit_index(services(), current_user.id, text, status, query.get("page", 1), PER_PAGE)
    query.pop("page", None)
    verifying = _moment(request.args.get("verifying", ""))
    return render_template("audit/index.html", page=page, text=text, status=status, statuses=STATUS_LABELS,
                           query=query, org=directory(services()), pages=max(1, -(-page.total // PER_PAGE)),
                           anchors=audit_verify.anchors_recorded(services()), verifying=verifying)


def _moment(value: str) -> datetime | None:
    try:
        found = datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
    return found if found is not None and found.tzinfo is not None else None


@bp.route("/requests/<uuid:instance_id>/verify", methods=["POST"])
@login_required
def verify_request(instance_id):
    """Verify one request's audit chain now and record the result."""
    require_auditor(current_user)
    request_header(services(), str(instance_id))  # a request, not any instance
    found = h.verify_request(services(), str(instance_id))
    if found["ok"]:
        flash(_("已校验：审计链完整，共 %(n)s 条记录。", n=found["events"]), "success")
    else:
        flash(_("已校验：审计链有 %(n)s 处问题。", n=len(found["problems"])), "error")
    return redirect(url_for("audit.index", **_list_query(request.form)))


@bp.route("/verify", methods=["POST"])
@login_required
def verify_all():
    """One bounded step of verifying every chain (then the anchors); the index continues until done."""
    require_auditor(current_user)
    since = _moment(request.form.get("since", "")) or services().now()
    step = audit_verify.verify_next(services(), since)
    query = _list_query(request.form)
    if step["done"]:
        flash(_("全部审计链已校验。") if step["anchors_ok"] is not False else _("锚点校验失败。"),
              "success" if step["anchors_ok"] is not False else "error")
        return redirect(url_for("audit.index", **query))
    flash(_("已校验 %(n)s 条审计链，剩余 %(left)s 条。", n=step["checked"], left=step["remaining"]), "info")
    return redirect(url_for("audit.index", verifying=since.isoformat(), **query))


@bp.route("/processes")
@login_required
def processes():
    """Every deploy and migration of requests, from the processes' own audit chains, with their verification."""
    require_auditor(current_user)
    process_id = request.args.get("process") or None
    found = h.process_changes(services(), process_id)
    if process_id and not found["events"]:
        abort(404)
    return render_template("audit/processes.html", events=found["events"], chains=found["chains"],
                           process_id=process_id, names=h.Names(directory(services())), kinds=KIND_LABELS)


@bp.route("/sign-ins")
@login_required
def sign_ins():
    """Every account's sign-ins, failed attempts, locks, unlocks and sign-outs, newest first (who, when,
    from where), from the accounts' own audit chains; one account's, or the failures only."""
    require_auditor(current_user)
    user = request.args.get("user", "").strip()[:64]
    failures = request.args.get("only") == "failures"
    number = max(1, min(request.args.get("page", 1, type=int), 100_000))
    events, total = account_events(services(), user or None, FAILURES if failures else (), SIGN_INS_PER_PAGE,
                                   (number - 1) * SIGN_INS_PER_PAGE)
    query = {k: v for k, v in (("user", user), ("only", "failures" if failures else "")) if v}
    return render_template("audit/sign_ins.html", events=events, page=Page(events, total, number, SIGN_INS_PER_PAGE),
                           pages=max(1, -(-total // SIGN_INS_PER_PAGE)), user=user, failures=failures, query=query,
                           names={u: v["name"] for u, v in directory(services()).users.items()},
                           labels=ACCOUNT_EVENT_LABELS, reasons=REASON_LABELS)


def history_filter(args) -> tuple[h.HistoryFilter, list[Msg]]:
    """The history filter of a query (type, actor, since, until) and what was wrong in it (messages of
    the catalogue). A date is a whole day in the reader's zone; a date and time without an offset is read
    in that zone too."""
    problems = []
    bounds: dict[str, datetime] = {}
    for name in ("since", "until"):
        value = args.get(name, "").strip()
        if not value:
            continue
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            problems.append(Msg("filter.bad_time", given=value[:30]))
            continue
        whole_day = len(value) == 10
        moment = moment if moment.tzinfo else moment.replace(tzinfo=_zone())
        bounds[name] = moment + timedelta(days=1, microseconds=-1) if whole_day and name == "until" else moment
    kind = args.get("type") or None
    if kind and kind not in h.TYPES and kind not in TYPE_LABELS:
        problems.append(Msg("filter.bad_type", given=kind[:40]))
        kind = None
    return h.HistoryFilter(type=kind, actor=args.get("actor") or None, since=bounds.get("since"),
                           until=bounds.get("until")), problems


@bp.route("/requests/<uuid:instance_id>/history")
@login_required
def history(instance_id):
    """A request's every event in order, with actor, time, element and data changes; filters."""
    require_auditor(current_user)
    header = request_header(services(), str(instance_id))
    f, problems = history_filter(request.args)
    every = h.history(services(), str(instance_id), reader=current_user.id)
    rows = [r for r in every if f.keeps(r)]
    names = h.Names(directory(services()))
    for row in rows:
        for change in row["changes"]:
            change["before_text"] = value_text(change["before"], names, change["columns"])
            change["after_text"] = value_text(change["after"], names, change["columns"])
    actors = {r["actor"]: r["actor_name"] for r in every if r["actor"] != "system"}
    query = {k: v for k, v in request.args.items() if k in ("type", "actor", "since", "until") and v}
    return render_template("audit/history.html", h=header, rows=rows, total=len(every), f=f, query=query,
                           actors=actors, problems=problems, categories=CATEGORY_LABELS, types=TYPE_LABELS,
                           fields=FIELD_LABELS, groups=GROUP_LABELS, verification=_verification(str(instance_id)),
                           names=names, views=VIEW_LABELS)


@bp.route("/requests/<uuid:instance_id>/history.csv", defaults={"fmt": "csv"})
@bp.route("/requests/<uuid:instance_id>/history.xlsx", defaults={"fmt": "xlsx"})
@bp.route("/requests/<uuid:instance_id>/history.json", defaults={"fmt": "json"})
@login_required
def history_export(instance_id, fmt: str):
    """The request's history, filtered as on its page, as CSV, Excel or JSON (times in the reader's zone)."""
    require_auditor(current_user)
    request_header(services(), str(instance_id))  # a request, not any instance
    f, _problems = history_filter(request.args)
    labels = {"columns": {k: str(v) for k, v in COLUMN_LABELS.items()},
              "types": {k: str(v) for k, v in {**TYPE_LABELS, **CATEGORY_LABELS}.items()},
              "fields": {k: str(v) for k, v in FIELD_LABELS.items()}, "system": str(_("系统")),
              "sheet": str(_("审计历史"))}
    name, content, mimetype = h.export_history(services(), str(instance_id), f, fmt, str(get_timezone()), labels,
                                               reader=current_user.id)
    return send_file(io.BytesIO(content), mimetype=mimetype, as_attachment=True, download_name=name)


@bp.route("/requests/<uuid:instance_id>/replay")
@login_required
def replay(instance_id):
    """The request replayed step by step on its diagram: slider, play, pause, step; called processes."""
    require_auditor(current_user)
    header = request_header(services(), str(instance_id))
    labels = {"system": str(_("系统")), "step": str(_("第 %(n)s / %(total)s 步")), "main": str(_("主流程")),
              "enter": str(_("进入子流程")), "none": str(_("（无）")), "unassigned": str(_("待认领")),
              "failed": str(_("回放无法显示。")), "in_scope": str(_("发生在")), "run": str(_("第 %(n)s 次")),
              "due": str(_("截止")), "behalf": str(_("代 %(name)s")), "internal": str(_("流程内部变量")),
              "colon": str(_("：")), "sep": str(_("、"))}
    return render_template("audit/replay.html", h=header, labels=labels,
                           verification=_verification(str(instance_id)))


@bp.route("/requests/<uuid:instance_id>/replay.json")
@login_required
def replay_data(instance_id):
    """The replay's diagrams, scopes and steps, with times, names and labels in the reader's language."""
    require_auditor(current_user)
    request_header(services(), str(instance_id))
    found = history_replay.replay(services(), str(instance_id), reader=current_user.id)
    names = h.Names(directory(services()))
    for step in found["steps"]:
        _readable(step, names, found["labels"], found["columns"])
    return jsonify(found)


def value_text(value, names, columns: dict[str, str] | None = None) -> str:
    """A value of a request's data as people read it: names for people and departments, options and
    diagram texts in the reader's language, moments in their time zone, table rows as `column: value`
    by the columns' labels (`columns`, id -> label, as the form names them)."""
    if isinstance(value, str) and _MOMENT.match(value):
        try:
            return format_when(datetime.fromisoformat(value))
        except ValueError:
            pass
    if isinstance(value, str) and _DAY.fullmatch(value):
        return format_day(value)
    if isinstance(value, list):
        rows = any(isinstance(v, dict) for v in value)
        return str(_("；") if rows else _("、")).join(value_text(v, names, columns) for v in value)
    if isinstance(value, dict):
        named = {k: process_text(columns[k]) if columns and k in columns else str(FIELD_LABELS.get(k, k))
                 for k in value}
        return str(_("，")).join(f"{named[k]}{_('：')}{value_text(v, names)}" for k, v in value.items())
    text = h.as_text(value, names, str(_("是")), str(_("否")))
    return process_text(text) if isinstance(text, str) else text


def _data_rows(data: dict | None, labels: dict[str, str], names,
               columns: dict[str, dict[str, str]] | None = None) -> list[dict] | None:
    """A step's data as labelled rows: the fields of the forms and what the engine adds, by label,
    then the diagram's own variables (`internal`), by name."""
    if data is None:
        return None
    rows = []
    for key, value in data.items():
        label = labels.get(key)
        shown = process_text(split_label(label)[0]) if label else (
            str(FIELD_LABELS[key]) if key in FIELD_LABELS else None)
        rows.append({"key": key, "label": shown or key, "text": value_text(value, names, (columns or {}).get(key)),
                     "internal": shown is None})
    return sorted(rows, key=lambda r: (r["internal"], r["label"] if r["internal"] else ""))


def _readable(step: dict, names, labels: dict[str, str] | None = None,
              columns: dict[str, dict[str, str]] | None = None) -> None:
    """What the replay page shows of a step, in the reader's language and zone."""
    step["label"] = str(TYPE_LABELS.get(step["type"], step["type"]))
    step["at_text"] = format_when(datetime.fromisoformat(step["at"]))
    step["data_rows"] = _data_rows(step.get("data"), labels or {}, names, columns)
    step["behalf_name"] = names.user(step["on_behalf_of"]) if step["on_behalf_of"] else None
    if step.get("element_name"):
        step["element_name"] = process_text(step["element_name"])
    for event in step["events"]:
        event["label"] = str(TYPE_LABELS.get(event["type"], event["type"]))
        if event.get("element_name"):
            event["element_name"] = process_text(event["element_name"])
    for change in step["inputs"]:
        change["label"] = process_text(split_label(change["label"])[0]) if change["label"] else \
            str(FIELD_LABELS.get(change["field"], change["field"]))
        change["before_text"] = value_text(change["before"], names, change["columns"])
        change["after_text"] = value_text(change["after"], names, change["columns"])
    for task in step["open"]:
        task["name"] = process_text(task["name"])
        task["candidates"] = str(_("、")).join([names.user(u) for u in task["candidate_users"]]
                                      + [str(GROUP_LABELS.get(g, g)) for g in task["candidate_groups"]])
        task["due_text"] = format_when(datetime.fromisoformat(task["due_at"])) if task["due_at"] else None
