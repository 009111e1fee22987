"""An auditor replays a request in Chromium: a request returned once for supplement and whose plan
went through the conflict subprocess (filed and worked through the engine by its people), opened
from the audit list; the slider and the step buttons move the active task, the subprocess is
entered from the step where it runs, and the request shows as verified."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from engine.audit.history_replay import replay_states
from tests.browser.conftest import LIVE_REQUEST as REQUEST
from tests.browser.conftest import day, shot, sign_in
from tests.scenarios.driver import Flow
from tests.scenarios.steps import ACTIONS, AGREE, CLASSIFY, CONFIRM, HEADS, PMO_OWNER, POSITION, give_feedback

pytestmark = pytest.mark.slow


def _disputed_request(ctx) -> str:
    """Returned for supplement once, then through the conflict subprocess back to the plan."""
    flow = Flow(ctx, clock=None)
    flow.submit("xiaowang", REQUEST)
    flow.complete("dept_head_signoff", {"signoff_decision": "同意", "signoff_comment": "同意提交"})
    flow.complete("admin_review", {"review_decision": "退回补充", "review_comment": "目标须可衡量"})
    flow.complete("revise_request", {**REQUEST, "goal": "11月11日销售额同比增长30%"})
    flow.complete("dept_head_signoff", {"signoff_decision": "同意", "signoff_comment": "已补充"})
    flow.complete("admin_review", {"review_decision": "通过", "review_comment": "信息完整"})
    flow.complete("dispatch_lead", {"lead_dept": "MKT", "pmo_owner": PMO_OWNER, "dispatch_note": "请牵头"},
                  as_user=PMO_OWNER)
    flow.complete("lead_confirm", {"lead_decision": "确认接收"})
    give_feedback(flow, suggested=day(10))
    flow.complete("organise_coordination", {"coordination_mode": "在线讨论（不开会）"})
    flow.complete("write_plan", {"plan_tasks": [{"title": "物料设计", "dept": "MKT", "owner": "songyu",
                                                 "start": day(3), "end": day(10), "standard": "海报3张"}],
                                 "risk_plan": "延迟时提前通知"})
    flow.complete_each("approve_plan", {HEADS["PRD"]: AGREE, HEADS["SAL"]: {"approval_decision": "不同意",
                                                                           "approval_comment": "人手不足"}})
    flow.complete("classify_conflict", {**CLASSIFY, "conflict_meeting_time": f"{day(3)}T14:00"})
    flow.complete_each("state_positions", {HEADS["MKT"]: POSITION, HEADS["SAL"]: POSITION})
    flow.complete("propose_solution", {"conflict_solution": "技术部支援2人，时间顺延3天"})
    flow.complete_each("confirm_solution", {HEADS["MKT"]: CONFIRM, HEADS["SAL"]: CONFIRM})
    flow.complete("record_action_items", {"action_items": [{**a, "deadline": day(12)} for a in ACTIONS]},
                  as_user=PMO_OWNER)
    return flow.instance_id


def _slide(page, n: int) -> None:
    page.locator("#replay-step").evaluate(
        "(el, n) => { el.value = String(n); el.dispatchEvent(new Event('input', {bubbles: true})); }", n)
    expect(page.locator("#replay")).to_have_attribute("data-step", str(n))


def _in_view(page, element_id: str) -> bool:
    """Whether the shape of `element_id` lies wholly inside the diagram's box, at a readable size (a
    task 60 px wide or more: the whole collaboration diagram fitted to the box draws it far smaller)."""
    box = page.locator("#diagram").bounding_box()
    shape = page.locator(f'#diagram g.djs-element[data-element-id="{element_id}"]').bounding_box()
    return (shape is not None and shape["width"] >= 60 and shape["x"] >= box["x"] and shape["y"] >= box["y"]
            and shape["x"] + shape["width"] <= box["x"] + box["width"]
            and shape["y"] + shape["height"] <= box["y"] + box["height"])


def test_an_auditor_replays_a_disputed_request_step_by_step(page, server):
    _url, ctx = server
    instance_id = _disputed_request(ctx)
    states = replay_states(ctx, instance_id)
    returned = next(s["n"] for s in states if s["type"] == "task_completed" and s["element_id"] == "admin_review")
    in_conflict = next(s["n"] for s in states if s["element_id"] == "propose_solution")

    sign_in(page, "shenjie")
    page.click("a[data-nav=audit]")
    page.wait_for_url("**/audit")
    row = page.locator(f'tr[data-instance="{instance_id}"]')
    expect(row.locator("[data-verified]")).to_have_attribute("data-verified", "never")  # nothing recorded yet
    row.locator("button[data-action=verify]").click()  # "verify now": checked and recorded
    expect(row.locator("[data-verified]")).to_have_attribute("data-verified", "yes")
    # "verify all" goes on by itself, one bounded step after the other, until the anchors are done too
    page.click("button[data-action=verify-all]")
    expect(page.locator("section.audit-verify")).to_have_attribute("data-anchors", "yes")
    expect(page.locator("form[data-continue]")).to_have_count(0)
    row.locator("a[data-link=replay]").click()
    page.wait_for_url(f"**/audit/requests/{instance_id}/replay")

    diagram = page.locator("#diagram")
    expect(diagram).to_have_class(re.compile(r"\bready\b"))
    expect(page.locator("#replay")).to_have_attribute("data-step", str(len(states) - 1))  # opens at the end
    expect(diagram).to_have_attribute("data-active", "write_plan")
    assert _in_view(page, "write_plan")  # opens on the step, not fitted to a tiny whole
    expect(page.locator("[data-zoom] [data-zoom-by=active]")).to_be_visible()
    expect(page.locator(".verification")).to_have_attribute("data-verified", "yes")
    expect(page.locator(".verification")).to_contain_text("已验证")

    # the beginning: filed, waiting for the head's sign-off
    _slide(page, 0)
    expect(diagram).to_have_attribute("data-active", "dept_head_signoff")
    assert _in_view(page, "dept_head_signoff")  # the view follows a step out of it
    expect(page.locator("[data-field=what]")).to_have_text("提交需求")
    expect(page.locator("[data-field=actor]")).to_have_text("小王")
    # the return: the admin's review sends it back to the requester, one step on she revises it
    _slide(page, returned)
    expect(diagram).to_have_attribute("data-active", "revise_request")
    expect(page.locator('[data-field=open] tr[data-element="revise_request"]')).to_contain_text("小王")
    expect(page.locator('[data-input="review_decision"]')).to_contain_text("退回补充")
    page.click("[data-control=forward]")
    expect(page.locator("#replay")).to_have_attribute("data-step", str(returned + 1))
    expect(diagram).to_have_attribute("data-active", "dept_head_signoff")
    expect(page.locator('[data-input="goal"]')).to_contain_text("11月11日销售额同比增长30%")
    expect(page.locator(".xz-count")).to_have_text(["×2"])  # the sign-off's merge, passed again after the return

    # the conflict subprocess runs from the plan's approval: enter it at a step inside it
    _slide(page, in_conflict)
    expect(diagram).to_have_attribute("data-active", "plan_conflict")
    page.click("#replay-subprocesses button[data-element=plan_conflict]")
    expect(diagram).to_have_attribute("data-process", "conflict_resolution")
    expect(diagram).to_have_attribute("data-active", "confirm_solution")
    expect(page.locator("#replay-path")).to_contain_text("二次协调")
    shot(page, "replay")
    page.click("[data-control=back]")
    expect(diagram).to_have_attribute("data-active", "propose_solution")
    # and back up to the main diagram
    page.click("#replay-path button[data-scope=main]")
    expect(diagram).to_have_attribute("data-process", "collaboration_request")
    expect(diagram).to_have_attribute("data-active", "plan_conflict")
