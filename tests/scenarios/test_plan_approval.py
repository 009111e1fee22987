"""Step 3, approval: every involved head approves in parallel; 需修改 returns the plan; 不同意 runs
the conflict subprocess (second-round coordination) and the plan is revised until all agree."""

from __future__ import annotations

from tests.scenarios.steps import (
    ACTIONS,
    AGREE,
    CLASSIFY,
    CONFIRM,
    HEADS,
    PLAN,
    PMO_OWNER,
    RISK_PLAN,
    to_confirmation,
    to_plan,
    write_plan,
)

LEAD, PRD, SAL = HEADS["MKT"], HEADS["PRD"], HEADS["SAL"]


def test_all_heads_agree_and_every_plan_task_starts(flow):
    to_plan(flow)
    write_plan(flow)
    flow.notifications()
    flow.complete("approve_plan", AGREE, assignee=SAL)
    assert flow.assignees("approve_plan") == [PRD]  # the other approval is still awaited
    flow.complete("approve_plan", AGREE, assignee=PRD)

    assert flow.assignees("execute_task") == ["qianyun", "songyu"]
    assert sorted(flow.notifications()) == sorted(
        (t["owner"], "info", f"新任务（需求 XMBG-202611001）：{t['title']}，计划 {t['start']} 至 {t['end']}；"
                             f"交付标准：{t['standard']}") for t in PLAN)
    assert sorted(flow.form("execute_task", assignee="songyu")["plan_approvals"], key=lambda a: a["dept"]) == [
        {"dept": "PRD", "decision": "同意", "comment": "同意方案"},
        {"dept": "SAL", "decision": "同意", "comment": "同意方案"}]


def test_needs_change_sends_the_plan_back_with_the_comments(flow):
    to_plan(flow)
    write_plan(flow)
    shown = flow.opening("approve_plan", assignee=PRD)  # the heads approve what they see
    assert (shown["plan_tasks"], shown["risk_plan"]) == (PLAN, RISK_PLAN)
    flow.notifications(new_tasks=True)
    flow.complete_each("approve_plan", {PRD: {"approval_decision": "需修改", "approval_comment": "补充验收口径"},
                                        SAL: AGREE})
    assert flow.open_elements() == ["write_plan"]
    assert flow.task("write_plan")["assignee"] == LEAD
    summary = flow.form("write_plan")["approval_summary"]
    assert sorted(summary.split("\n")) == ["PRD：需修改，补充验收口径", "SAL：同意，同意方案"]
    # the lead is told of the return with its reasons (and not, besides, of a new task)
    assert flow.notifications(new_tasks=True) == [
        (LEAD, "return", "需求 XMBG-202611001 的协调方案需修改后重新提交：" + summary)]
    # the plan comes back as it was, risk plan included, to be revised
    opening = flow.opening("write_plan")
    assert (opening["plan_tasks"], opening["risk_plan"]) == (PLAN, RISK_PLAN)

    revised = [{**PLAN[1], "standard": "3款产品的功能说明，经产品部负责人签字"}, PLAN[0]]
    write_plan(flow, revised)
    assert flow.assignees("approve_plan") == sorted([PRD, SAL])  # a new round, every head again
    assert flow.form("approve_plan", assignee=PRD)["plan_tasks"] == revised
    flow.complete_each("approve_plan", {PRD: AGREE, SAL: AGREE})
    assert flow.assignees("execute_task") == ["qianyun", "songyu"]


def test_a_disagreement_is_coordinated_again_and_the_plan_revised(flow):
    to_plan(flow)
    write_plan(flow)
    flow.notifications()
    # 不同意 outweighs 需修改: the disagreement goes to second-round coordination
    flow.complete_each("approve_plan", {PRD: {"approval_decision": "需修改", "approval_comment": "补充验收口径"},
                                        SAL: {"approval_decision": "不同意", "approval_comment": "销售部11月人手不足"}})
    classify = flow.task("classify_conflict")
    assert (classify["assignee"], classify["candidate_groups"]) == (None, ["platform_admins"])
    shown = flow.form("classify_conflict")
    assert shown["conflict_parties"] == ["MKT", "SAL"]  # the lead and whoever disagreed
    assert shown["conflict_topic"] == "协调方案分歧：双十一大促跨部门协作"
    assert shown["conflict_source"] == "plan_approval"
    assert "SAL：不同意，销售部11月人手不足" in shown["conflict_description"]

    to_confirmation(flow, ["MKT", "SAL"])
    assert flow.notifications() == [
        (head, "info", "问题协调会（资源冲突）：协调方案分歧：双十一大促跨部门协作；时间：2026-11-05 14:00；"
                       "地点：3楼会议室。请在会前提交本部门的立场与诉求") for head in (LEAD, SAL)]
    assert flow.assignees("confirm_solution") == sorted([LEAD, SAL])
    flow.complete_each("confirm_solution", {LEAD: CONFIRM, SAL: CONFIRM})
    assert flow.form("record_action_items")["conflict_solution"] == "技术部支援2人，时间顺延3天"
    flow.complete("record_action_items", {"action_items": ACTIONS}, as_user=PMO_OWNER)

    settled = "问题已协商一致：协调方案分歧：双十一大促跨部门协作，请按问题解决行动表执行"
    assert flow.notifications() == [(head, "info", settled) for head in (LEAD, SAL)]
    assert flow.open_elements() == ["write_plan"]  # back to revising the plan
    shown = flow.form("write_plan")
    assert shown["action_items"] == ACTIONS
    assert shown["conflict_outcome"] == "consensus"
    assert sorted(shown["approval_summary"].split("\n")) == ["PRD：需修改，补充验收口径",
                                                             "SAL：不同意，销售部11月人手不足"]
    ((admin, classified),) = flow.completed_by("classify_conflict")
    assert admin == "lijingli"  # the first admin of the organisation
    assert classified["data"] == {**CLASSIFY, "conflict_meeting_time": "2026-11-05T14:00:00+08:00"}  # Beijing time

    write_plan(flow)
    flow.complete_each("approve_plan", {PRD: AGREE, SAL: AGREE})
    assert flow.assignees("execute_task") == ["qianyun", "songyu"]
    assert "conflict_settled" in flow.reached()


def _one_head_silent_for_48_hours(flow) -> list[tuple[str, str, str]]:
    to_plan(flow)
    write_plan(flow)
    flow.complete("approve_plan", AGREE, assignee=SAL)
    flow.notifications()
    flow.advance(hours=47, minutes=59)
    assert flow.notifications() == []
    flow.advance(minutes=1)
    return flow.notifications()


URGE_APPROVAL = "协调方案须在48小时内审批（需求 XMBG-202611001），请尽快处理"


def test_an_approval_missing_after_48_hours_is_urged_and_escalated(flow):
    notes = _one_head_silent_for_48_hours(flow)
    assert (PRD, "urge", URGE_APPROVAL) in notes
    assert (PMO_OWNER, "escalation", "需求 XMBG-202611001 的协调方案审批超过48小时") in notes
    assert flow.timers_fired() == ["approval_timer"]
    assert flow.assignees("approve_plan") == [PRD]
    flow.complete("approve_plan", AGREE, assignee=PRD)
    assert flow.assignees("execute_task") == ["qianyun", "songyu"]


def test_only_the_heads_still_to_approve_are_urged(flow):
    notes = _one_head_silent_for_48_hours(flow)
    assert sorted(n[0] for n in notes if n[1] == "urge") == [PRD]
