"""The data each step of the collaboration flow needs, and the way to an interesting point of it.

The demo request: 小王 (xiaowang, 市场部 MKT) asks 市场部, 产品部 (PRD) and 销售部 (SAL) to work
together. Its department head is 张总监 (zhangzongjian). The admin dispatches 市场部 as the lead
and names 周晓 (xiaozhou) as the follow-up admin, so the approvers are the heads of 产品部
(陈总监 chenzongjian) and 销售部 (黄经理 huangjingli).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from engine.org.directory import ADMINS, directory

MAIN, CONFLICT = "collaboration_request", "conflict_resolution"
BEIJING = ZoneInfo("Asia/Shanghai")


def beijing(text: str) -> datetime:
    """A Beijing wall-clock time ("2026-11-05 10:00") as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=BEIJING)


def admins(ctx) -> list[str]:
    """The platform admins of the organisation, by id."""
    return directory(ctx).members(ADMINS)


REQUESTER, REQUESTER_HEAD = "xiaowang", "zhangzongjian"
PMO_OWNER = "xiaozhou"
INVOLVED = ["MKT", "PRD", "SAL"]
INTERFACES = {"MKT": "xiaowang", "PRD": "zhaojingli", "SAL": "xiaoli"}
HEADS = {"MKT": "zhangzongjian", "PRD": "chenzongjian", "SAL": "huangjingli", "LOG": "zhoujingli",
         "CS": "guojingli", "TEC": "liuzongjian"}

REQUEST = {
    "request_type": "项目协作", "title": "双十一大促跨部门协作", "background": "双十一大促需要市场、产品、销售协同",
    "goal": "11月11日活动期间销售额同比增长30%，用户满意度达90%以上", "involved_depts": INVOLVED,
    "details": "产品部：11月10日前提供3款促销产品功能说明；销售部：11月5日前提供客户名单",
    "expected_date": "2026-12-20", "priority": "高", "urgency": "紧急", "contact": "13800000000",
}

PLAN = [
    {"title": "物料设计", "dept": "MKT", "owner": "songyu", "start": "2026-11-09", "end": "2026-11-20",
     "standard": "海报3张，符合VI规范"},
    {"title": "功能说明", "dept": "PRD", "owner": "qianyun", "start": "2026-11-09", "end": "2026-11-27",
     "standard": "3款产品的功能说明"},
]
RISK_PLAN = "若产品部功能说明延迟，提前3天通知市场部调整宣传节奏"
OWNER_SUPERIORS = {"songyu": "zhangzongjian", "qianyun": "chenzongjian"}

AGREE = {"approval_decision": "同意", "approval_comment": "同意方案"}
SUBMIT_WORK = {"work_outcome": "提交成果", "deliverable_summary": "按交付标准完成", "progress_status": "已完成"}
ACCEPT = {"acceptance_result": "验收通过"}


def to_review(flow, **changes) -> None:
    """Filed by 小王 and signed off by 张总监: the admins review it."""
    flow.submit(REQUESTER, {**REQUEST, "expected_date": _later(flow, REQUEST["expected_date"]), **changes})
    flow.complete("dept_head_signoff", {"signoff_decision": "同意", "signoff_comment": "同意提交"})


def to_lead_confirm(flow, lead: str = "MKT", **changes) -> None:
    """Reviewed and dispatched to `lead` by 周晓, who follows it up."""
    to_review(flow, **changes)
    flow.complete("admin_review", {"review_decision": "通过", "review_comment": "信息完整，可行"})
    flow.complete("dispatch_lead", {"lead_dept": lead, "pmo_owner": PMO_OWNER, "dispatch_note": "请牵头"},
                  as_user=PMO_OWNER)


def today(flow) -> date:
    """The flow's date in Beijing (the real one for a flow on the real clock)."""
    return (flow.clock.now if flow.clock else datetime.now(UTC)).astimezone(BEIJING).date()


def _later(flow, day: str) -> str:
    """A date of the data above, written for 2 November 2026, moved on by the days the flow's clock
    has run since: a date a person types is never in the past."""
    shift = max(0, (today(flow) - date(2026, 11, 2)).days)
    return (date.fromisoformat(day) + timedelta(days=shift)).isoformat()


def dated_plan(flow, plan=PLAN) -> list[dict]:
    """`plan` as the lead writes it on the flow's day."""
    return [{**t, "start": _later(flow, t["start"]), "end": _later(flow, t["end"])} for t in plan]


def give_feedback(flow, depts=INVOLVED, suggested: str | None = None) -> None:
    suggested = suggested or _later(flow, "2026-11-10")
    flow.complete_each("collect_feedback", {
        INTERFACES[d]: {"feedback_content": f"{d} 可按期配合", "feedback_suggested_date": suggested}
        for d in depts})


def to_organise(flow, **changes) -> None:
    """The lead (市场部) confirmed and every involved department answered: the lead organises."""
    to_lead_confirm(flow, **changes)
    flow.complete("lead_confirm", {"lead_decision": "确认接收"})
    give_feedback(flow)


def to_plan(flow, **changes) -> None:
    """Coordinated online, without a meeting: the lead writes the plan."""
    to_organise(flow, **changes)
    flow.complete("organise_coordination", {"coordination_mode": "在线讨论（不开会）"})


def write_plan(flow, plan=None) -> None:
    flow.complete("write_plan", {"plan_tasks": plan or dated_plan(flow), "risk_plan": RISK_PLAN})


def to_execution(flow, plan=None) -> None:
    """The plan written and approved by the heads of 产品部 and 销售部: its tasks run."""
    to_plan(flow)
    write_plan(flow, plan)
    flow.complete_each("approve_plan", {HEADS["PRD"]: AGREE, HEADS["SAL"]: AGREE})


def finish_task(flow, owner: str, summary: str = "按交付标准完成") -> None:
    flow.complete("execute_task", {**SUBMIT_WORK, "deliverable_summary": summary}, assignee=owner)
    flow.complete("accept_deliverable", ACCEPT)


def to_archive(flow) -> None:
    """Every plan task delivered and accepted: the admins archive the request."""
    to_execution(flow)
    for task in PLAN:
        finish_task(flow, task["owner"], f"{task['title']}已完成")


CLASSIFY = {"conflict_type": "资源冲突", "conflict_meeting_time": "2026-11-05T14:00",
            "conflict_meeting_place": "3楼会议室", "conflict_meeting_agenda": "明确分工和资源"}
POSITION = {"position_statement": "本部门人手已排满", "position_demands": "调整时间或增加人手"}
CONFIRM = {"confirm_decision": "同意", "confirm_comment": "同意方案"}
DISSENT = {"confirm_decision": "不同意", "confirm_comment": "人手仍不足"}
ACTIONS = [{"action": "技术部抽调2人支援", "owner": "yangfan", "deadline": "2026-11-15"}]


def to_confirmation(flow, parties: list[str], solution: str = "技术部支援2人，时间顺延3天") -> None:
    """Through classification, every party's position and the admin's proposal: parties confirm."""
    flow.complete("classify_conflict", CLASSIFY)
    flow.complete_each("state_positions", {HEADS[d]: POSITION for d in parties})
    flow.complete("propose_solution", {"conflict_solution": solution})
