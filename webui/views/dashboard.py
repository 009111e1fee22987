"""The managers' dashboard (platform admins, auditors, department heads; 404 for anyone else): open
and overdue requests, time per step, SLA compliance, satisfaction, who asks whom, red warnings, each
chart with its table and an Excel export; and the bottleneck heat map over a process diagram."""

from __future__ import annotations

import io
from pathlib import Path

from flask import Blueprint, abort, current_app, jsonify, render_template, request, send_file, send_from_directory
from flask_babel import lazy_gettext as _
from flask_login import current_user, login_required

from engine.analytics import figures as analytics
from engine.errors import InvalidInput
from webui.bpmn_messages import translate_names
from webui.extensions import services
from webui.i18n import message, process_text
from webui.views.requests import RED_LABELS, URGENCY_LABELS

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")

ECHARTS = Path("node_modules") / "echarts" / "dist"
STEP_LABELS = {1: _("需求发起"), 2: _("审核分派"), 3: _("协调方案"), 4: _("执行跟踪"), 5: _("结果验收"),
               6: _("归档复盘")}
SECTIONS = ("open_overdue", "step_times", "sla", "satisfaction", "matrix", "red")
TITLES = {"open_overdue": _("各部门进行中与超期需求"), "step_times": _("六步流程各步耗时"),
          "sla": _("按紧急程度的时限达成率"), "satisfaction": _("满意度趋势"),
          "matrix": _("部门协作矩阵：谁请求谁、多快响应"), "red": _("当前红色预警"),
          "heatmap_tasks": _("环节耗时"), "heatmap_flows": _("连线经过次数")}


def _columns() -> dict[str, list[tuple[str, object]]]:
    """Each section's table: (key of a row, column label)."""
    return {
        "open_overdue": [("department", _("部门")), ("open", _("进行中")), ("overdue", _("超期"))],
        "step_times": [("label", _("步骤")), ("requests", _("需求数")), ("avg_hours", _("平均耗时（小时）")),
                       ("p90_hours", _("90分位耗时（小时）"))],
        "sla": [("label", _("紧急程度")), ("due", _("有时限的任务")), ("on_time", _("按时完成")),
                ("late", _("超时完成")), ("rate", _("达成率（%）"))],
        "satisfaction": [("month", _("月份")), ("ratings", _("评价数")), ("average", _("平均分"))],
        "matrix": [("from", _("发起部门")), ("to", _("被请求部门")), ("requests", _("需求数")),
                   ("answers", _("已反馈")), ("avg_hours", _("平均响应（小时）"))],
        "red": [("request_no", _("需求编号")), ("request_title", _("需求标题")), ("title", _("计划任务")),
                ("department", _("部门")), ("owner_name", _("责任人")), ("planned_end", _("计划完成")),
                ("reason_text", _("预警原因"))],
        "heatmap_tasks": [("name", _("环节")), ("count", _("完成次数")), ("avg_hours", _("平均耗时（小时）")),
                          ("p90_hours", _("90分位耗时（小时）"))],
        "heatmap_flows": [("name", _("连线")), ("count", _("经过次数"))],
    }


def _reader() -> None:
    """404 unless the signed-in user may open the dashboard."""
    if not analytics.may_see_dashboard(services(), current_user.id):
        abort(404)


def _period() -> tuple[analytics.Period, str | None]:
    """The period of the query's from/to, or the default one with what was wrong."""
    try:
        return analytics.period(services(), request.args.get("from"), request.args.get("to")), None
    except InvalidInput as exc:
        return analytics.period(services()), message(exc)


def _readable(figures: dict) -> dict:
    """Labels of steps, urgencies and red reasons in the reader's language."""
    for row in figures["step_times"]:
        row["label"] = str(STEP_LABELS.get(row["step"], row["name"]))
    for row in figures["sla"]:
        row["label"] = str(URGENCY_LABELS.get(row["urgency"], row["urgency"]))
    for row in figures["red"]:
        row["reason_text"] = str(_("、")).join(str(RED_LABELS.get(r, r)) for r in row["reasons"])
    return figures


def _figures(p: analytics.Period) -> dict:
    analytics.refresh_if_stale(services())
    return _readable(analytics.dashboard(services(), current_user.id, p))


@bp.route("")
@login_required
def index():
    """The dashboard over a period (default: the last 90 days)."""
    _reader()
    p, problem = _period()
    figures = _figures(p)
    columns = _columns()
    tables = {s: {"columns": [str(label) for _key, label in columns[s]], "fields": [k for k, _label in columns[s]],
                  "rows": figures[s]} for s in SECTIONS}
    org_names = {d: info["name"] for d, info in _org().departments.items()}
    scope = [org_names.get(d, d) for d in figures["scope"]] if figures["scope"] else None
    return render_template("dashboard/index.html", p=p, problem=problem, tables=tables, titles=TITLES, scope=scope,
                           query={"from": p.first.isoformat(), "to": p.last.isoformat()})


def _org():
    from engine.org.directory import directory

    return directory(services())


@bp.route("/export.xlsx")
@login_required
def export():
    """The dashboard's tables (one section with ?section=, else all) as an Excel workbook."""
    _reader()
    p, _problem = _period()
    figures = _figures(p)
    section = request.args.get("section")
    if section and section not in SECTIONS:
        abort(404)
    columns = _columns()
    chosen = [section] if section else SECTIONS
    sheets = [(str(TITLES[s]), [str(label) for _key, label in columns[s]],
               [[row.get(k) for k, _label in columns[s]] for row in figures[s]]) for s in chosen]
    return _xlsx(sheets, f"dashboard-{section or 'all'}-{p.first}-{p.last}.xlsx")


def _xlsx(sheets, name: str):
    return send_file(io.BytesIO(analytics.workbook(sheets)), as_attachment=True, download_name=name,
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _choice() -> tuple[list[dict], dict]:
    """Every process version and the chosen one (?version=<id>, else the newest of the first process)."""
    versions = analytics.versions(services(), current_user.id)
    if not versions:
        abort(404)
    wanted = request.args.get("version", "")
    chosen = next((v for v in versions if str(v["id"]) == wanted), None)
    if wanted and chosen is None:
        abort(404)
    main = next((v for v in versions if v["process_id"] == "collaboration_request"), versions[0])
    return versions, chosen or main


def _heat(p: analytics.Period, chosen: dict) -> dict:
    analytics.refresh_if_stale(services())
    found = analytics.heatmap(services(), current_user.id, chosen["process_id"], chosen["version"], p)
    for task in found["tasks"].values():
        task["name"] = process_text(task["name"])
    found["flow_names"] = {f: " → ".join(process_text(n) for n in names) for f, names in found["flow_names"].items()}
    return found


@bp.route("/heatmap")
@login_required
def heatmap():
    """The bottleneck heat map: a process version's diagram with task times and flows taken."""
    _reader()
    p, problem = _period()
    versions, chosen = _choice()
    found = _heat(p, chosen)
    tasks = sorted(found["tasks"].items(), key=lambda i: -(i[1]["avg_seconds"] or 0))
    flows = sorted(found["flows"].items(), key=lambda i: (-i[1], i[0]))
    query = {"from": p.first.isoformat(), "to": p.last.isoformat(), "version": chosen["id"]}
    labels = {"avg": str(_("平均")), "p90": str(_("90分位")), "n": str(_("次")), "hours": str(_("小时")),
              "failed": str(_("流程图无法显示。"))}
    return render_template("dashboard/heatmap.html", p=p, problem=problem, versions=versions, chosen=chosen,
                           tasks=tasks, flows=flows, names=found["flow_names"], query=query, labels=labels,
                           titles=TITLES)


@bp.route("/heatmap.json")
@login_required
def heatmap_json():
    """The heat map's data: the diagram (names in the reader's language), task figures, flow counts."""
    _reader()
    p, _problem = _period()
    _versions, chosen = _choice()
    found = _heat(p, chosen)
    found["xml"] = translate_names(found["xml"], f"{found['process_id']}.bpmn", process_text)
    return jsonify(found)


@bp.route("/heatmap.xlsx")
@login_required
def heatmap_export():
    """The heat map's figures (task times, flows taken) as an Excel workbook."""
    _reader()
    p, _problem = _period()
    _versions, chosen = _choice()
    found = _heat(p, chosen)
    columns = _columns()
    tasks = [{"name": t["name"], **t} for t in found["tasks"].values()]
    flows = [{"name": found["flow_names"].get(f, f), "count": n} for f, n in sorted(found["flows"].items())]
    sheets = [(str(TITLES["heatmap_tasks"]), [str(label) for _key, label in columns["heatmap_tasks"]],
               [[t.get(k) for k, _label in columns["heatmap_tasks"]] for t in tasks]),
              (str(TITLES["heatmap_flows"]), [str(label) for _key, label in columns["heatmap_flows"]],
               [[f.get(k) for k, _label in columns["heatmap_flows"]] for f in flows])]
    return _xlsx(sheets, f"heatmap-{chosen['process_id']}-v{chosen['version']}-{p.first}-{p.last}.xlsx")


@bp.route("/assets/echarts/<path:filename>")
@login_required
def echarts_asset(filename: str):
    """A file of ECharts' dist folder, installed from npm."""
    folder = Path(current_app.root_path).parent / ECHARTS
    if not folder.is_dir():
        abort(404)
    return send_from_directory(folder, filename, max_age=86400)
