"""Steps 4 and 5: every plan task runs in parallel at its owner, with reminders and urges; a blocker
runs the conflict subprocess; the requester accepts or returns the deliverable with the problem.

Also acceptance criterion c: an owner silent for 24 hours is urged together with their superior.
"""

from __future__ import annotations

from collections import Counter

import pytest

from engine.errors import FormInvalid
from engine.messages import Msg
from engine.notify.notices import list_notifications
from engine.requests.attachments import add_attachment
from engine.requests.expressions import script_services
from engine.requests.records import list_records, post_progress
from engine.workflow.notices import running_instance
from tests.scenarios.steps import (
    ACCEPT,
    AGREE,
    HEADS,
    OWNER_SUPERIORS,
    PLAN,
    PMO_OWNER,
    POSITION,
    REQUESTER,
    SUBMIT_WORK,
    beijing,
    finish_task,
    to_execution,
    to_plan,
    write_plan,
)

LEAD = HEADS["MKT"]
WEEKLY = "请组织本周进度复盘会，针对滞后任务协调资源（需求 XMBG-202611001）"


def _urges(*owners: str) -> list[tuple[str, str, str]]:
    notes = []
    for task in PLAN:
        if task["owner"] in owners:
            message = f"任务“{task['title']}”超过24小时未更新进度，请在今天17:00前填写进度更新"
            notes += [(task["owner"], "urge", message), (OWNER_SUPERIORS[task["owner"]], "urge", message)]
    return sorted(notes)


def test_each_plan_task_goes_to_its_owner_due_on_its_planned_end(flow):
    to_execution(flow)
    assert flow.assignees("execute_task") == ["qianyun", "songyu"]
    for task in PLAN:
        work = flow.task("execute_task", assignee=task["owner"])
        assert work["due_at"] == beijing(f"{task['end']} 18:00")  # the end of the plan's last working day
        assert flow.inbox(task["owner"]) == {work["task_id"]: "execute_task"}  # not the other owner's
        assert flow.form("execute_task", assignee=task["owner"])["plan_task"] == task

    finish_task(flow, "qianyun", "3款产品功能说明已交付")
    assert flow.open_elements() == ["execute_task"]  # the other task runs on
    finish_task(flow, "songyu", "海报3张")
    assert flow.open_elements() == ["archive_request"]
    assert sorted(flow.form("archive_request")["task_results"], key=lambda r: r["owner"]) == [
        {"title": "功能说明", "dept": "PRD", "owner": "qianyun"},
        {"title": "物料设计", "dept": "MKT", "owner": "songyu"}]
    # what was delivered is archived as the request's records, per plan task
    assert [(r["plan_task_key"], r["note"]) for r in flow.records("deliverable")] == [
        ("T2", "3款产品功能说明已交付"), ("T1", "海报3张")]
    assert [(r["plan_task_key"], r["decision"]) for r in flow.records("acceptance")] == [
        ("T2", "验收通过"), ("T1", "验收通过")]


def test_an_owner_silent_for_24_hours_is_urged_with_their_superior(flow):
    to_execution(flow)
    flow.notifications()
    flow.advance(hours=23, minutes=59)
    assert flow.notifications() == []
    flow.advance(minutes=1)
    assert sorted(flow.notifications()) == _urges("songyu", "qianyun")
    assert flow.timers_fired() == ["no_progress_timer"] * 2

    finish_task(flow, "songyu")  # delivered and accepted: nobody urges 物料设计 any more
    flow.advance(hours=24)
    assert sorted(flow.notifications()) == _urges("qianyun")


def test_the_urge_opens_the_owners_task_where_progress_is_posted(flow):
    to_execution(flow)
    flow.advance(hours=24)
    work = flow.task("execute_task", assignee="qianyun")
    urged = [n for n in list_notifications(flow.ctx, "qianyun").items if n["kind"] == "urge"]
    assert [(n["task_id"], n["task_open"]) for n in urged] == [(work["task_id"], True)]
    superior = OWNER_SUPERIORS["qianyun"]  # the same task: the superior reads it, with its progress
    assert [n["task_id"] for n in list_notifications(flow.ctx, superior).items
            if n["kind"] == "urge" and "功能说明" in n["message"]] == [work["task_id"]]


def test_progress_posted_within_24_hours_puts_the_urge_off(flow):
    to_plan(flow)
    flow.advance(hours=2)
    write_plan(flow)
    flow.complete_each("approve_plan", {HEADS["PRD"]: AGREE, HEADS["SAL"]: AGREE})
    # both plan tasks open now, two hours after the request; their no-progress timer ticks every 24 hours
    flow.notifications()
    hours_since_progress = script_services(flow.ctx)["hours_since_progress"]
    flow.advance(hours=14)
    post_progress(flow.ctx, flow.instance_id, "songyu", status="进行中", plan_task_key="T1", work_done="海报初稿")

    flow.advance(hours=10)  # the first tick: 宋宇 posted 10 hours ago, 钱云's task opened 24 hours ago
    assert sorted(flow.notifications()) == _urges("qianyun")
    assert flow.timers_fired() == ["no_progress_timer"] * 2
    with running_instance(flow.instance_id):
        assert [hours_since_progress(task) for task in PLAN] == [10, 24]

    flow.advance(hours=24)  # the next tick finds 宋宇 silent for 34 hours: urged again, with the superior
    assert sorted(flow.notifications()) == _urges("songyu", "qianyun")

    flow.advance(hours=2)
    post_progress(flow.ctx, flow.instance_id, "qianyun", status="待支持", plan_task_key="T2", problems="缺少客户数据")
    # asking for support raises a red warning: the lead's head is told at once, to step in
    assert flow.notifications() == [(HEADS["MKT"], "red_warning",
                                     f"红色预警：需求 XMBG-202611001 任务“{PLAN[1]['title']}”需要支持：缺少客户数据")]
    flow.advance(hours=22)
    assert sorted(flow.notifications()) == _urges("songyu")
    with running_instance(flow.instance_id):
        assert [hours_since_progress(task) for task in PLAN] == [58, 22]


def test_reminders_three_days_and_one_day_before_a_task_is_due(flow):
    flow.advance(hours=6)  # execution starts on Monday at 15:00, so the daily urges come at 15:00
    to_execution(flow)
    flow.notifications()

    flow.advance_to(beijing("2026-11-17 08:59"), days=1)
    notes = flow.notifications()
    assert [n for n in notes if n[1] != "urge"] == [(LEAD, "reminder", WEEKLY)] * 2  # 9 and 16 November
    assert Counter(n for n in notes if n[1] == "urge") == Counter(_urges("songyu", "qianyun") * 14)

    flow.advance(minutes=1)  # 物料设计 is due on 20 November: three days before, its owner
    assert flow.notifications() == [
        ("songyu", "reminder", "任务“物料设计”的计划完成日期为 2026-11-20（到期前3天提醒），请对照交付标准推进")]

    flow.advance_to(beijing("2026-11-19 08:59"), days=1)
    assert {n[1] for n in flow.notifications()} == {"urge"}
    flow.advance(minutes=1)  # one day before: the lead department's head and the follow-up admin
    message = "任务“物料设计”（责任人 songyu）的计划完成日期为 2026-11-20（到期前1天提醒），请关注是否需要介入协调"
    assert flow.notifications() == [(LEAD, "reminder", message), (PMO_OWNER, "reminder", message)]
    fired = Counter(flow.timers_fired())
    assert (fired["reminder_3d_timer"], fired["reminder_1d_timer"], fired["weekly_review_timer"]) == (1, 1, 2)


def test_a_blocker_is_coordinated_escalated_arbitrated_and_the_task_resumes(flow):
    to_execution(flow)
    flow.notifications()
    flow.complete("execute_task", {"work_outcome": "需协调", "deliverable_summary": "功能说明已完成一半",
                                   "blocker_description": "销售部未提供客户数据", "blocker_parties": ["SAL"]},
                  assignee="qianyun")
    assert flow.open_elements() == ["classify_conflict", "execute_task"]  # 物料设计 goes on meanwhile
    shown = flow.form("classify_conflict")
    assert (shown["conflict_parties"], shown["conflict_topic"]) == (["PRD", "SAL"], "执行阻塞：功能说明")
    assert (shown["conflict_description"], shown["conflict_source"]) == ("销售部未提供客户数据", "execution_blocker")

    flow.complete("classify_conflict", {"conflict_type": "职责分歧", "conflict_meeting_time": "2026-11-04T10:00",
                                        "conflict_meeting_place": "线上会议",
                                        "conflict_meeting_agenda": "客户数据由谁提供"})
    assert flow.assignees("state_positions") == sorted([HEADS["PRD"], HEADS["SAL"]])
    assert {t["due_at"] for t in flow.tasks("state_positions")} == {beijing("2026-11-04 10:00")}
    flow.complete_each("state_positions", {HEADS["PRD"]: POSITION, HEADS["SAL"]: {
        "position_statement": "客户数据属于保密信息", "position_demands": "由法务部确认后提供"}})
    summary = flow.form("propose_solution")["conflict_position_summary"]
    assert "SAL：立场——客户数据属于保密信息；诉求——由法务部确认后提供" in summary.split("\n")
    flow.complete("propose_solution", {"conflict_solution": "销售部3日内提供脱敏数据"})
    flow.complete_each("confirm_solution", {
        HEADS["PRD"]: {"confirm_decision": "同意", "confirm_comment": "同意"},
        HEADS["SAL"]: {"confirm_decision": "不同意", "confirm_comment": "须先经法务部审核"}})

    arbitrate = flow.task("arbitrate")
    assert arbitrate["assignee"] == "wangzong"  # above both heads
    shown = flow.form("arbitrate")
    assert shown["conflict_escalation_reason"] == "未达成一致：SAL 不同意解决方案"
    assert shown["conflict_solution"] == "销售部3日内提供脱敏数据"
    actions = [{"action": "提供脱敏客户数据", "owner": "xiaoli", "deadline": "2026-11-06"}]
    ruling = {"arbitration_decision": "销售部2日内提供脱敏数据，法务部同步审核", "action_items": actions}
    flow.complete("arbitrate", ruling)

    notes = flow.notifications()
    escalated = "问题协调升级，请裁决：执行阻塞：功能说明（未达成一致：SAL 不同意解决方案）"
    assert ("wangzong", "escalation", escalated) in notes
    announced = "上级已裁决（具有约束力）：执行阻塞：功能说明，请按问题解决行动表执行"
    assert notes[-2:] == [(HEADS["PRD"], "info", announced), (HEADS["SAL"], "info", announced)]  # not the requester
    assert flow.assignees("execute_task") == ["qianyun", "songyu"]  # 功能说明 resumes at its owner
    shown = flow.form("execute_task", assignee="qianyun")
    assert (shown["conflict_outcome"], shown["action_items"]) == ("arbitrated", actions)
    assert "conflict_arbitrated" in flow.reached()


MINIMAL_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
               b"trailer<</Root 1 0 R>>\n%%EOF\n")


def test_acceptance_returned_with_the_problem_then_accepted(flow):
    to_execution(flow)
    # The owner uploads the deliverable first; the form refers to the stored attachment by its id.
    poster = add_attachment(flow.ctx, flow.instance_id, "songyu", "海报.pdf", MINIMAL_PDF)
    work = {**SUBMIT_WORK, "deliverable_summary": "海报3张", "deliverable_files": [str(poster["id"])]}
    with pytest.raises(FormInvalid):  # a name is not an uploaded file
        flow.complete("execute_task", {**work, "deliverable_files": ["poster.zip"]}, assignee="songyu")
    flow.complete("execute_task", work, assignee="songyu")
    accept = flow.task("accept_deliverable")
    assert accept["assignee"] == REQUESTER
    # the requester checks the deliverable (a record) against the delivery standard (the task's plan row)
    assert flow.form("accept_deliverable")["plan_task"]["standard"] == PLAN[0]["standard"]
    assert [(d["plan_task_key"], d["note"]) for d in flow.records("deliverable")] == [("T1", "海报3张")]
    # ... and sees what was delivered: the summary and the files, read-only on the acceptance form
    shown = flow.opening("accept_deliverable")
    assert (shown["deliverable_summary"], shown["deliverable_files"]) == ("海报3张", [str(poster["id"])])

    problem = "物料设计未包含活动二维码，需补充"
    with pytest.raises(FormInvalid) as err:  # a return must say what is wrong
        flow.complete("accept_deliverable", {"acceptance_result": "退回修改"})
    assert err.value.errors == {"acceptance_problem": Msg("field.required_if", field="验收结论", value="退回修改")}
    assert err.value.field_texts() == {"acceptance_problem": "“验收结论”为“退回修改”时必填"}
    flow.notifications(new_tasks=True)
    flow.complete("accept_deliverable", {"acceptance_result": "退回修改", "acceptance_problem": problem})
    assert flow.assignees("execute_task") == ["qianyun", "songyu"]
    assert flow.form("execute_task", assignee="songyu")["acceptance_problem"] == problem
    # the owner is told of the return and why (the return speaks instead of a generic new-task notice)
    assert flow.notifications(new_tasks=True) == [
        ("songyu", "return", f"任务“{PLAN[0]['title']}”验收退回，请修改后重新提交：{problem}")]
    (latest, *_) = list_notifications(flow.ctx, "songyu").items  # ... and the notice opens the task to rework
    assert (latest["kind"], latest["task_id"], latest["task_open"]) == (
        "return", flow.task("execute_task", "songyu")["task_id"], True)
    # the work form comes back with the deliverable to revise, the way of submitting asked afresh
    reopened = flow.opening("execute_task", assignee="songyu")
    assert (reopened["deliverable_summary"], reopened["acceptance_problem"]) == ("海报3张", problem)
    assert "work_outcome" not in reopened

    flow.complete("execute_task", {**SUBMIT_WORK, "deliverable_summary": "海报3张，已加二维码"}, assignee="songyu")
    assert flow.records("deliverable")[-1]["note"] == "海报3张，已加二维码"
    # the second acceptance asks afresh: neither the last verdict nor its problem is filled in
    assert flow.form("accept_deliverable")["acceptance_result"] == "退回修改"
    assert not {"acceptance_result", "acceptance_problem"} & flow.opening("accept_deliverable").keys()
    flow.complete("accept_deliverable", ACCEPT)
    assert flow.assignees("execute_task") == ["qianyun"]
    finish_task(flow, "qianyun")
    assert sorted(r["owner"] for r in flow.form("archive_request")["task_results"]) == ["qianyun", "songyu"]
    deliverables = list_records(flow.ctx, flow.instance_id, REQUESTER)
    deliverables = [r for r in deliverables if r["kind"] == "deliverable"]
    assert [(d["plan_task_key"], d["note"], d["attachment_ids"]) for d in deliverables] == [
        ("T1", "海报3张", [poster["id"]]), ("T1", "海报3张，已加二维码", []), ("T2", "按交付标准完成", [])]
    assert [(a["plan_task_key"], a["decision"], a["problem"]) for a in flow.records("acceptance")] == [
        ("T1", "退回修改", problem), ("T1", "验收通过", ""), ("T2", "验收通过", "")]
    assert [d["data"]["acceptance_result"] for _, d in flow.completed_by("accept_deliverable")] == [
        "退回修改", "验收通过", "验收通过"]


def test_a_delay_risk_reported_on_the_work_form_raises_a_red_warning_to_the_lead(flow):
    to_execution(flow)
    flow.notifications()
    flow.complete("execute_task", {**SUBMIT_WORK, "progress_status": "进行中", "progress_risk": True,
                                   "progress_risk_note": "印厂排期满，预计晚2天"}, assignee="songyu")
    assert (HEADS["MKT"], "red_warning", f"红色预警：需求 XMBG-202611001 任务“{PLAN[0]['title']}”报告延期风险："
            "印厂排期满，预计晚2天") in flow.notifications()
    # the lead's head reporting on a task himself is not warned by himself
    post_progress(flow.ctx, flow.instance_id, HEADS["MKT"], status="待支持", plan_task_key="T2", problems="缺数据")
    assert [n for n in flow.notifications() if n[1] == "red_warning"] == []
