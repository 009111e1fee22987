"""One collaboration request carried through the engine services to its end, as the demo users
would (bench.audit generates thousands; bench.command_cost times its commands)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from bench.engine import Clock, day
from engine.bpmn.deploy import deploy
from engine.context import Services
from engine.org.directory import ADMINS, directory
from engine.org.importer import import_org, parse_yaml
from engine.requests.requests import submit_request
from engine.workflow.instances import complete_task

ROOT = Path(__file__).resolve().parent.parent
SPACING = timedelta(minutes=45)  # between two filings: at most 992 requests a month (999 allowed)
STEP = timedelta(seconds=20)  # between two commands of one request


def _inputs(filed: datetime) -> dict[str, dict]:
    plan = [{"title": "物料设计", "dept": "MKT", "owner": "songyu", "start": day(filed, 7), "end": day(filed, 18),
             "standard": "海报3张，符合VI规范"},
            {"title": "功能说明", "dept": "PRD", "owner": "qianyun", "start": day(filed, 7), "end": day(filed, 25),
             "standard": "3款产品的功能说明"}]
    return {
        "dept_head_signoff": {"signoff_decision": "同意", "signoff_comment": "同意提交"},
        "admin_review": {"review_decision": "通过", "review_comment": "信息完整，可行"},
        "dispatch_lead": {"lead_dept": "MKT", "pmo_owner": "xiaozhou", "dispatch_note": "请牵头"},
        "lead_confirm": {"lead_decision": "确认接收"},
        "collect_feedback": {"feedback_content": "可按期配合", "feedback_suggested_date": day(filed, 8)},
        "organise_coordination": {"coordination_mode": "在线讨论（不开会）"},
        "write_plan": {"plan_tasks": plan, "risk_plan": "若功能说明延迟，提前3天通知市场部"},
        "approve_plan": {"approval_decision": "同意", "approval_comment": "同意方案"},
        "execute_task": {"work_outcome": "提交成果", "deliverable_summary": "按交付标准完成",
                         "progress_status": "已完成"},
        "accept_deliverable": {"acceptance_result": "验收通过"},
        "archive_request": {"archive_complete": True, "archive_note": "申请表、方案、成果、验收报告已归档"},
        "rate_satisfaction": {"satisfaction": 5, "satisfaction_comment": "响应及时"},
        "retrospective": {"retro_participants": ["MKT", "PRD", "SAL"], "retro_goal": "销售额同比增长30%",
                          "retro_result": "销售额同比增长35%", "retro_highlights": "在线协调一次定分工",
                          "retro_problems": "客户数据提供较晚", "retro_improvements": "数据需求提前10天提出"},
        "distill_lessons": {"lesson_title": "大促协作：数据需求提前", "lesson_body": "客户数据需预留保密审核时间",
                            "lesson_tags": "大促,数据", "recognised_depts": ["PRD"]},
    }


def _request(filed: datetime) -> dict:
    return {"request_type": "项目协作", "title": f"大促跨部门协作 {filed:%m%d%H%M}",
            "background": "市场、产品、销售协同",
            "goal": "销售额同比增长30%", "involved_depts": ["MKT", "PRD", "SAL"], "details": "产品部提供功能说明",
            "expected_date": day(filed, 48), "priority": "高", "urgency": "紧急", "contact": "13800000000"}


def _actor(ctx: Services, assignee: str | None, users: str, groups: str, element: str) -> str:
    if assignee:
        return assignee
    if element in ("dispatch_lead", "archive_request"):
        return "xiaozhou"  # the admin who follows the request up
    if users:
        return users.split(",")[0]
    members = [m for g in groups.split(",") if g for m in directory(ctx).members(g)]
    return members[0]


def carry_through(ctx: Services, clock: Clock) -> int:
    """File one request and complete every task it opens until it ends; the commands it took."""
    filed = clock.now
    inputs = _inputs(filed)
    iid = submit_request(ctx, "xiaowang", _request(filed)).instance_id
    status, commands = "running", 1
    for _ in range(60):
        with ctx.db.transaction(write=False) as tx:
            rows = tx.all("SELECT task_id, element_id, assignee, candidate_users, candidate_groups FROM inbox_task "
                          "WHERE instance_id = ? ORDER BY created_at, task_id", (iid,))
        if not rows:
            break
        for task_id, element, assignee, users, groups in rows:
            clock.now += STEP
            status = complete_task(ctx, task_id, _actor(ctx, assignee, users, groups, element), inputs[element]).status
            commands += 1
    if status != "completed":
        raise RuntimeError(f"request {iid} ended {status}")
    return commands


def set_up(ctx: Services) -> None:
    import_org(ctx, parse_yaml((ROOT / "demo" / "org.yaml").read_text("utf-8")), "setup", bootstrap=True)
    deploy(ctx, {p.name: p.read_bytes() for p in sorted((ROOT / "processes").glob("*.bpmn"))}, "lijingli")
    assert directory(ctx).members(ADMINS)
