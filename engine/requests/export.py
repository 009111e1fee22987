"""A request as an Excel workbook filled in like the four forms of the platform's templates:
需求申请表 (template 1), 部门协调反馈表 (template 2, one block per feedback), 进度跟踪表
(template 3, one row per progress update) and 复盘表 (template 4).

The forms are Chinese business documents and keep their Chinese labels in every language. Text
people typed is written as text, never as a formula (a cell starting with "=" stays that text).
Who may export a request is the caller's decision, taken before export_request is called.
"""

from __future__ import annotations

import io
import json
from datetime import datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.worksheet.worksheet import Worksheet

from engine.context import Services
from engine.org.directory import directory
from engine.requests.records import list_records
from engine.requests.request_view import Names, request_header

SHEETS = ("需求申请表", "部门协调反馈表", "进度跟踪表", "复盘表")
# The user tasks whose completers sign the forms (elements of the collaboration flow).
SIGNERS = {"head": "dept_head_signoff", "admin": "admin_review", "archive": "archive_request"}
_THIN = Side(style="thin", color="999999")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_LABEL = PatternFill("solid", fgColor="EEF2FA")
_WRAP = Alignment(wrap_text=True, vertical="top")


def put_cell(ws: Worksheet, row: int, col: int, value, label: bool = False) -> None:
    cell = ws.cell(row=row, column=col, value=value)
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"  # typed text, not a formula
    cell.border = _BOX
    cell.alignment = _WRAP
    if label:
        cell.font = Font(bold=True)
        cell.fill = _LABEL


def _title(ws: Worksheet, text: str, width: int) -> None:
    ws.cell(row=1, column=1, value=text).font = Font(bold=True, size=14)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    ws.cell(row=1, column=1).alignment = Alignment(horizontal="center")


# Labels whose value takes a whole row.
_WIDE = {"需求标题", "需求背景与目标", "涉及部门", "需求详情", "附件", "反馈内容", "建议完成时间", "需协调资源", "备注",
         "协作目标", "目标达成情况", "协作亮点", "存在问题", "改进建议", "参与部门"}


def _pairs(ws: Worksheet, row: int, items: list[tuple[str, object]]) -> int:
    """Label/value pairs in columns A-D, two to a row; a wide one (_WIDE) alone, its value across B-D.
    Returns the row after the last."""
    i = 0
    while i < len(items):
        label, value = items[i]
        put_cell(ws, row, 1, label, True)
        put_cell(ws, row, 2, value)
        beside = items[i + 1] if i + 1 < len(items) else None
        if label in _WIDE or beside is None or beside[0] in _WIDE:
            for col in (3, 4):
                ws.cell(row=row, column=col).border = _BOX
            ws.merge_cells(start_row=row, start_column=2, end_row=row, end_column=4)
            i += 1
        else:
            put_cell(ws, row, 3, beside[0], True)
            put_cell(ws, row, 4, beside[1])
            i += 2
        row += 1
    return row


def set_widths(ws: Worksheet, widths: list[int]) -> None:
    for i, width in enumerate(widths):
        ws.column_dimensions[chr(ord("A") + i)].width = width


class _Request:
    """What the forms are filled from, read once."""

    def __init__(self, ctx: Services, instance_id: str):
        self.zone = ZoneInfo(ctx.config.timezone)
        self.header = request_header(ctx, instance_id)
        self.names = Names(directory(ctx))
        self.records = list_records(ctx, self.header["instance_id"], self.header["initiator"])
        with ctx.db.transaction(write=False) as tx:
            events = tx.all("SELECT event_type, actor, element_id, data FROM audit_event WHERE instance_id = ? "
                            "AND event_type IN ('instance_started', 'task_completed') ORDER BY seq",
                            (self.header["instance_id"],))
        self.data: dict = {}
        self.signed: dict[str, str] = {}
        for event_type, actor, element, data in events:
            values = json.loads(data)
            if event_type == "instance_started":
                self.data = dict(values.get("data") or {})
            elif element == "revise_request":  # returned for supplement: the request as revised
                self.data.update({k: v for k, v in (values.get("data") or {}).items() if k in self.data})
            self.signed.update({who: actor for who, el in SIGNERS.items() if el == element})

    def kind(self, name: str) -> list[dict]:
        return [r for r in self.records if r["kind"] == name]

    def day(self, moment) -> str:
        if not moment:
            return ""
        value = moment if isinstance(moment, datetime) else datetime.fromisoformat(str(moment))
        return value.astimezone(self.zone).strftime("%Y-%m-%d") if value.tzinfo else value.strftime("%Y-%m-%d")

    def plan_tasks(self) -> dict[str, dict]:
        """Plan tasks by key, the latest version of each key winning."""
        tasks: dict[str, dict] = {}
        for plan in sorted(self.kind("plan"), key=lambda p: p["version"]):
            tasks.update({t["task_key"]: t for t in plan["tasks"]})
        return tasks


def _application(ws: Worksheet, r: _Request) -> None:
    h, n, d = r.header, r.names, r.data
    _title(ws, "跨部门沟通需求申请表", 4)
    files = "、".join(a["filename"] for a in r.kind("attachment"))
    _pairs(ws, 2, [
        ("需求编号", h["request_no"]), ("发起日期", r.day(h["submitted_at"])),
        ("发起部门", n.dept(h["requester_dept"])), ("发起人", n.user(h["requester"])),
        ("联系方式", d.get("contact", "")), ("需求类型", h["request_type"] or ""),
        ("需求标题", h["title"]),
        ("需求背景与目标", "\n".join(x for x in (d.get("background"), d.get("goal")) if x)),
        ("涉及部门", n.depts(h["involved_depts"])),
        ("需求详情", d.get("details", "")),
        ("期望完成时间", h["expected_date"] or ""), ("优先级", h["priority"] or ""),
        ("紧急程度", h["urgency"] or ""), ("关联项目", d.get("related_project") or ""),
        ("附件", files),
        ("发起部门负责人签字", n.user(r.signed.get("head")) if r.signed.get("head") else ""),
        ("平台管理员审核", n.user(r.signed.get("admin")) if r.signed.get("admin") else ""),
    ])
    set_widths(ws, [18, 36, 18, 36])


def _feedback(ws: Worksheet, r: _Request) -> None:
    h, n = r.header, r.names
    _title(ws, "部门协调反馈表", 4)
    lead_head = n.org.head(h["lead_dept"])
    row = 2
    for f in r.kind("feedback"):
        head = n.org.head(f["department_id"])
        row = _pairs(ws, row, [
            ("需求编号", h["request_no"]), ("反馈部门", n.dept(f["department_id"])),
            ("反馈人", n.user(f["author"])), ("反馈日期", r.day(f["created_at"])),
            ("反馈内容", f["content"]), ("建议完成时间", f["suggested_date"] or ""),
            ("需协调资源", f["resources"]), ("备注", f["remarks"]),
            ("反馈部门负责人签字", n.user(head) if head else ""),
            ("主责部门确认", n.user(lead_head) if lead_head else ""),
        ]) + 1
    set_widths(ws, [18, 36, 18, 36])


PROGRESS_COLUMNS = ("需求编号", "任务名称", "负责部门", "责任人", "计划开始时间", "计划完成时间", "当前进度",
                    "更新时间", "已完成工作", "待解决问题", "风险提示", "预计完成时间", "填写人", "部门负责人审核")


def _progress(ws: Worksheet, r: _Request) -> None:
    h, n = r.header, r.names
    _title(ws, "跨部门项目进度跟踪表", len(PROGRESS_COLUMNS))
    for col, label in enumerate(PROGRESS_COLUMNS, start=1):
        put_cell(ws, 2, col, label, True)
    tasks = r.plan_tasks()
    for row, p in enumerate(r.kind("progress_update"), start=3):
        task = tasks.get(p.get("plan_task_key") or "", {})
        dept = task.get("department_id")
        head = n.org.head(dept) if dept else None
        risk = f"有（说明：{p['risk_note']}）" if p["risk"] else "无"
        values = (h["request_no"], task.get("title", ""), n.dept(dept) if dept else "",
                  n.user(task["owner"]) if task else "", task.get("planned_start", ""), task.get("planned_end", ""),
                  p["status"], r.day(p["created_at"]), p["work_done"], p["problems"], risk,
                  p.get("expected_finish") or "", n.user(p["author"]), n.user(head) if head else "")
        for col, value in enumerate(values, start=1):
            put_cell(ws, row, col, value)
    set_widths(ws, [16, 18, 10, 10, 13, 13, 10, 12, 36, 30, 30, 13, 10, 12])


def _retrospective(ws: Worksheet, r: _Request) -> None:
    h, n = r.header, r.names
    _title(ws, "跨部门协作复盘表", 4)
    score = next((f"{s['score']} / 5" for s in r.kind("satisfaction")), "")
    retros = r.kind("retrospective") or [None]
    lead_head = n.org.head(h["lead_dept"])
    row = 2
    for x in retros:
        x = x or {}
        row = _pairs(ws, row, [
            ("需求编号", h["request_no"]), ("复盘日期", r.day(x.get("created_at"))),
            ("主责部门", n.dept(h["lead_dept"]) if h["lead_dept"] else ""), ("满意度", score),
            ("参与部门", n.depts(x.get("departments") or [d for d in h["involved_depts"] if d != h["lead_dept"]])),
            ("协作目标", x.get("goal", "")), ("目标达成情况", x.get("result", "")),
            ("协作亮点", x.get("highlights", "")), ("存在问题", x.get("problems", "")),
            ("改进建议", x.get("improvements", "")),
            ("主责部门负责人签字", n.user(lead_head) if lead_head else ""),
            ("平台管理员归档", n.user(r.signed["archive"]) if r.signed.get("archive") else ""),
        ]) + 1
    set_widths(ws, [18, 36, 18, 36])


def export_request(ctx: Services, instance_id: str) -> tuple[str, bytes]:
    """The request's workbook: (file name, the bytes of the .xlsx)."""
    r = _Request(ctx, instance_id)
    book = Workbook()
    sheets = [book.active, *(book.create_sheet() for _ in SHEETS[1:])]
    for ws, name, fill in zip(sheets, SHEETS, (_application, _feedback, _progress, _retrospective), strict=True):
        ws.title = name
        fill(ws, r)
    out = io.BytesIO()
    book.save(out)
    return f"{r.header['request_no']}.xlsx", out.getvalue()
