"""One request taken through all six steps in a real browser, every user signing in and working from
their own inbox: submission, sign-off, review (returned once for supplement), dispatch, a transfer,
feedback, the plan (a disagreement coordinated through the conflict subprocess, then revised and
approved), execution (one deliverable returned once), archive, retrospective, satisfaction, lessons.

No step reaches into the engine: what each user does is what the pages offer them.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import shot, sign_in

pytestmark = pytest.mark.slow

TODAY = datetime.now(ZoneInfo("Asia/Shanghai")).date()


def day(n: int) -> str:
    """The date `n` days from today (Beijing), as a date input takes it."""
    return (TODAY + timedelta(days=n)).isoformat()


def tick(page, field: str, values: list[str]) -> None:
    """Check `values` in a field's list of check boxes (people, departments)."""
    for value in values:
        page.check(f'#f-{field} input[value="{value}"]')


def chinese_day(iso: str) -> str:
    """A date as the Chinese pages write it: 12月10日 this year, 2027年1月5日 another."""
    found = datetime.fromisoformat(iso).date()
    return (f"{found.month}月{found.day}日" if found.year == TODAY.year else
            f"{found.year}年{found.month}月{found.day}日")


# ------------------------------------------------------------------------------------------- helpers

def become(page, user: str) -> None:
    """Sign out whoever is signed in (the header's 退出 button) and sign in as `user`."""
    if page.locator("[data-user]").count():
        with page.expect_navigation():
            page.click(".who button[type=submit]")
    sign_in(page, user)
    expect(page.locator("[data-user]")).to_have_attribute("data-user", user)


def flash(page):
    return page.locator("p.flash")


def inbox_row(page, element: str, tab: str = "mine"):
    """The one row of `element` in a tab of the signed-in user's inbox."""
    page.goto(f"{page.base_url}/inbox?tab={tab}")
    row = page.locator(f'section[data-list="{tab}"] tr[data-element="{element}"]')
    expect(row).to_have_count(1)
    return row


def assert_not_in_inbox(page, element: str) -> None:
    for tab in ("mine", "group"):
        page.goto(f"{page.base_url}/inbox?tab={tab}")
        expect(page.locator(f'section[data-list="{tab}"] tr[data-element="{element}"]')).to_have_count(0)


def open_task(page, element: str, number: str, tab: str = "mine") -> str:
    """Open `element` from the inbox row (showing the request's number); the task's id."""
    row = inbox_row(page, element, tab)
    expect(row.locator(".request-no")).to_have_text(number)
    task_id = row.get_attribute("data-task")
    row.locator("td a").first.click()
    page.wait_for_url(f"**/tasks/{task_id}")
    meta = page.locator("p.meta[data-task]")
    expect(meta).to_have_attribute("data-element", element)
    expect(page.locator('[data-story="request"] [data-link="request"]')).to_have_text(number)
    fits(page)
    return task_id


WIDE = """(w) => [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > w + 1).slice(0, 8)
    .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""


def fits(page) -> None:
    """The page is no wider than the window (on a phone: nothing to scroll sideways)."""
    wide = page.evaluate(WIDE, page.viewport_size["width"])  # named in the failure
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"], (page.url, wide)


def claim_and_open(page, element: str, number: str) -> str:
    """An admin's group task: claim it on its inbox row (认领), then open it from 我的任务."""
    row = inbox_row(page, element, "group")
    with page.expect_navigation():
        row.locator("button[data-action=claim]").click()
    expect(flash(page)).to_contain_text("已认领")
    return open_task(page, element, number)


def choose(page, field: str, value: str) -> None:
    """A radio of an enum field (four options or fewer)."""
    page.check(f'input[type=radio][name="{field}"][value="{value}"]')


def submit(page) -> None:
    """Submit the task form: back in the inbox with 已完成：<task name>, or fail with the page's errors."""
    name = page.locator("h1").inner_text()
    invalid = page.locator('form[data-form="complete"]').evaluate(
        "f => Array.from(f.elements).filter(e => !e.checkValidity()).map(e => e.name)")
    assert invalid == [], f"the browser would not submit {name}: {invalid} invalid"
    with page.expect_navigation():
        page.click('form[data-form="complete"] .actions button.primary')
    assert page.url == f"{page.base_url}/inbox", page.locator(".errors, p.error").all_inner_texts()
    expect(flash(page)).to_have_text(f"已完成：{name}")


def readonly(page, field: str):
    return page.locator(f'.work-form .field.readonly[data-field="{field}"]')


def fill_row(page, table: str, n: int, values: dict[str, str]) -> None:
    """Fill row `n` of a table field: inputs and textareas by name, pickers by option value."""
    for column, value in values.items():
        cell = page.locator(f'[name="{table}-{n}-{column}"]')
        if cell.evaluate("e => e.tagName") == "SELECT":
            cell.select_option(value)
        else:
            cell.fill(value)


def add_row(page, table: str) -> int:
    """Click the table's 添加一行 (+) button; the index of the row it added."""
    rows = page.locator(f'table[data-table="{table}"] tbody tr')
    before = rows.count()
    n = int(page.get_attribute(f'table[data-table="{table}"]', "data-next-row"))
    page.click(f'button[data-add-row="{table}"]')
    expect(rows).to_have_count(before + 1)
    return n


def open_request(page, number: str, status: str | None = None) -> None:
    """The request's page, from the list under 需求 (its row showing `status`, if given)."""
    page.click("a[data-nav=requests]")
    page.wait_for_url("**/requests*")
    listed = page.locator(f'tr[data-request="{number}"]')
    if status:
        expect(listed.locator(".status")).to_have_text(status)
    listed.locator("a").first.click()
    page.wait_for_url("**/requests/*")
    expect(page.locator(".request-head")).to_have_attribute("data-request", number)


PLAN = [
    {"title": "物料设计", "dept": "MKT", "owner": "songyu", "start": day(1), "end": day(14),
     "standard": "海报3张，符合VI规范"},
    {"title": "功能说明", "dept": "PRD", "owner": "qianyun", "start": day(1), "end": day(21),
     "standard": "3款产品的功能说明"},
]


# ------------------------------------------------------------------------------------------- the test

def snap(page, name: str) -> None:
    """A screenshot of the walk: name.png at a desk, name-phone.png on a phone."""
    fits(page)
    shot(page, name if page.viewport_size["width"] > 600 else f"{name}-phone")


@pytest.mark.parametrize("page", [1280, 390], indirect=True, ids=["desk", "phone"])
def test_a_request_goes_through_all_six_steps_in_the_browser(page):
    page.set_default_timeout(10_000)

    # ---- 1. 小王 files the request ------------------------------------------------------------
    become(page, "xiaowang")
    page.click("a[data-nav=new]")
    page.wait_for_url("**/requests/new")
    page.select_option("#f-request_type", "项目协作")
    page.fill("#f-title", "双十一大促跨部门协作")
    page.fill("#f-background", "双十一大促需要市场、产品、销售协同")
    page.fill("#f-goal", "活动期间销售额同比增长30%，用户满意度达90%以上")
    page.fill(".field[data-field=involved_depts] input.picker-search", "部")  # the picker's search box
    tick(page, "involved_depts", ["PRD", "SAL"])
    expect(page.locator(".field[data-field=involved_depts] .picker-chosen")).to_have_text("已选：产品部、销售部")
    page.fill("#f-details", "产品部：提供3款促销产品功能说明；销售部：提供客户名单")
    page.fill("#f-expected_date", day(30))
    choose(page, "priority", "高")
    choose(page, "urgency", "紧急")
    page.fill("#f-contact", "13800000000")
    with page.expect_navigation():
        page.click("button[name=action][value=submit]")
    assert re.search(r"/requests/[0-9a-f-]{36}$", page.url), page.locator(".errors").all_inner_texts()
    found = re.fullmatch(r"需求已提交，编号 (XMBG-\d{9})。", flash(page).inner_text())
    assert found, flash(page).inner_text()
    number = found.group(1)
    assert number.startswith(f"XMBG-{TODAY:%Y%m}")
    # landed on the new request: it waits for 张总监's sign-off
    expect(page.locator('#standing [data-open-task="dept_head_signoff"]')).to_contain_text("张总监")
    page.goto(f"{page.base_url}/inbox")
    expect(page.locator('section[data-list="mine"] tr[data-element="dept_head_signoff"]')).to_have_count(0)

    # ---- 2. 张总监 signs off from his inbox ------------------------------------------------------
    become(page, "zhangzongjian")
    row = inbox_row(page, "dept_head_signoff")
    expect(row.locator(".request-title")).to_have_text("双十一大促跨部门协作")
    expect(row.locator(".urgency")).to_have_text("紧急")
    expect(page.locator("a[data-nav=inbox] .count")).to_have_text("1")
    snap(page, "inbox")
    open_task(page, "dept_head_signoff", number)
    choose(page, "signoff_decision", "同意")
    page.fill("#f-signoff_comment", "同意提交")
    submit(page)
    expect(page.locator('tr[data-element="dept_head_signoff"]')).to_have_count(0)

    # ---- 3. the admin returns it for supplement; 小王 revises; signed off, passed, dispatched ---
    reason = "请写明销售部需提供的客户名单数量和日期"
    become(page, "lijingli")
    claim_and_open(page, "admin_review", number)
    choose(page, "review_decision", "退回补充")
    page.fill("#f-review_comment", reason)
    submit(page)

    become(page, "xiaowang")
    open_task(page, "revise_request", number)
    expect(readonly(page, "review_comment").locator(".value")).to_have_text(reason)
    expect(page.locator("#f-title")).to_have_value("双十一大促跨部门协作")  # what she filed, to edit
    expect(page.locator("#f-involved_depts input:checked")).to_have_count(2)
    for dept in ("PRD", "SAL"):
        expect(page.locator(f'#f-involved_depts input[value="{dept}"]')).to_be_checked()
    page.fill("#f-details", "产品部：提供3款促销产品功能说明；销售部：提供500位重点客户名单，开工后一周内")
    submit(page)

    become(page, "zhangzongjian")
    open_task(page, "dept_head_signoff", number)
    choose(page, "signoff_decision", "同意")
    page.fill("#f-signoff_comment", "已补充，同意提交")
    submit(page)

    become(page, "lijingli")
    claim_and_open(page, "admin_review", number)
    choose(page, "review_decision", "通过")
    page.fill("#f-review_comment", "信息完整，可行")
    submit(page)
    claim_and_open(page, "dispatch_lead", number)
    page.select_option("#f-lead_dept", "MKT")
    page.select_option("#f-pmo_owner", "xiaozhou")
    page.fill("#f-dispatch_note", "请市场部牵头")
    submit(page)

    # ---- 4. 张总监 transfers the lead confirmation to 宋雨, who completes it ----------------------
    become(page, "zhangzongjian")
    task_id = open_task(page, "lead_confirm", number)
    page.click("details[data-op=transfer] summary")
    page.select_option("#op-transfer-to", "songyu")
    page.fill("#op-transfer-reason", "本周出差，由宋雨确认")
    with page.expect_navigation():
        page.click("details[data-op=transfer] button.primary")
    expect(flash(page)).to_have_text("已转办。")
    expect(page.locator(f'tr[data-task="{task_id}"]')).to_have_count(0)

    become(page, "songyu")
    assert open_task(page, "lead_confirm", number) == task_id
    expect(page.locator("p.meta[data-task]")).to_contain_text("处理人 宋雨")
    expect(page.locator("[data-history] li").filter(has_text="转办")).to_contain_text("→ 宋雨")
    expect(page.locator("[data-history]")).to_contain_text("本周出差，由宋雨确认")
    choose(page, "lead_decision", "确认接收")
    submit(page)

    # ---- 5. feedback, coordination, the plan, a disagreement, the conflict subprocess, approval -
    for user, dept in (("zhaojingli", "产品部"), ("xiaoli", "销售部")):
        become(page, user)
        open_task(page, "collect_feedback", number)
        page.fill("#f-feedback_content", f"{dept}可按期配合")
        page.fill("#f-feedback_suggested_date", day(10))
        submit(page)

    become(page, "zhangzongjian")
    open_task(page, "organise_coordination", number)
    choose(page, "coordination_mode", "在线讨论（不开会）")
    submit(page)
    open_task(page, "write_plan", number)
    fill_row(page, "plan_tasks", 0, PLAN[0])
    assert add_row(page, "plan_tasks") == 1
    page.locator('[name="plan_tasks-1-dept"]').select_option("PRD")
    # the owners offered first are the chosen department's people
    first = page.locator('[name="plan_tasks-1-owner"] option:not([value=""])').first
    expect(first).to_contain_text("（产品部）")
    fill_row(page, "plan_tasks", 1, PLAN[1])
    page.fill("#f-risk_plan", "若产品部功能说明延迟，提前3天通知市场部调整宣传节奏")
    snap(page, "task-form")
    submit(page)

    become(page, "chenzongjian")
    open_request(page, number)  # the plan on the request's page, as a Gantt chart
    expect(page.locator("table.plan-tasks tbody tr")).to_have_count(2)
    expect(page.locator("table.plan-tasks")).to_contain_text("3款产品的功能说明")
    open_task(page, "approve_plan", number)  # and on the approval form, read-only, with its risk plan
    expect(readonly(page, "plan_tasks")).to_contain_text("3款产品的功能说明")
    expect(readonly(page, "risk_plan")).to_contain_text("提前3天通知市场部")
    choose(page, "approval_decision", "同意")
    page.fill("#f-approval_comment", "同意方案")
    submit(page)
    become(page, "huangjingli")
    open_task(page, "approve_plan", number)
    choose(page, "approval_decision", "不同意")
    page.fill("#f-approval_comment", "销售部本月人手不足")
    submit(page)

    # the conflict subprocess: the admin classifies, both parties state positions, the admin
    # proposes, both confirm, the admin records the action table
    become(page, "lijingli")
    claim_and_open(page, "classify_conflict", number)
    choose(page, "conflict_type", "资源冲突")
    page.fill("#f-conflict_meeting_time", f"{day(2)}T14:00")
    page.fill("#f-conflict_meeting_place", "3楼会议室")
    page.fill("#f-conflict_meeting_agenda", "明确分工和资源")
    submit(page)

    positions = {"zhangzongjian": "市场部需按期上线宣传", "huangjingli": "销售部本月人手已排满"}
    for user, statement in positions.items():
        become(page, user)
        open_task(page, "state_positions", number)
        page.fill("#f-position_statement", statement)
        page.fill("#f-position_demands", "调整时间或增加人手")
        submit(page)

    solution = "技术部支援2人，功能说明顺延3天"
    become(page, "lijingli")
    claim_and_open(page, "propose_solution", number)
    for statement in positions.values():
        expect(readonly(page, "conflict_position_summary")).to_contain_text(statement)
    page.fill("#f-conflict_solution", solution)
    submit(page)

    for user in positions:
        become(page, user)
        open_task(page, "confirm_solution", number)
        expect(readonly(page, "conflict_solution").locator(".value")).to_have_text(solution)
        choose(page, "confirm_decision", "同意")
        page.fill("#f-confirm_comment", "同意方案")
        submit(page)

    become(page, "lijingli")
    claim_and_open(page, "record_action_items", number)
    fill_row(page, "action_items", 0, {"action": "技术部抽调2人支援产品部", "owner": "yangfan", "deadline": day(7)})
    submit(page)

    # the plan is revised with the action table and the approvals in view; every head approves
    become(page, "zhangzongjian")
    open_task(page, "write_plan", number)
    expect(readonly(page, "approval_summary")).to_contain_text("SAL：不同意，销售部本月人手不足")
    expect(readonly(page, "action_items")).to_contain_text("技术部抽调2人支援产品部")
    expect(page.locator('[name="plan_tasks-1-title"]')).to_have_value("功能说明")  # the plan, to revise
    fill_row(page, "plan_tasks", 1, {"end": day(24), "standard": "3款产品的功能说明，技术部2人支援"})
    expect(page.locator("#f-risk_plan")).to_have_value("若产品部功能说明延迟，提前3天通知市场部调整宣传节奏")
    page.fill("#f-risk_plan", "若产品部功能说明延迟，提前3天通知市场部；技术部2人支援")
    submit(page)
    for head in ("chenzongjian", "huangjingli"):
        become(page, head)
        open_task(page, "approve_plan", number)
        choose(page, "approval_decision", "同意")
        page.fill("#f-approval_comment", "同意修订后的方案")
        submit(page)

    # ---- 6. execution: each owner delivers; 小王 returns one once, then accepts both -----------
    problem = "物料设计未包含活动二维码，需补充"
    become(page, "songyu")
    open_task(page, "execute_task", number)
    choose(page, "progress_status", "已完成")
    choose(page, "work_outcome", "提交成果")
    page.fill("#f-deliverable_summary", "海报3张已完成")
    submit(page)

    become(page, "xiaowang")
    open_task(page, "accept_deliverable", number)
    # the acceptance names what is accepted: the plan task with its standard, and the deliverable
    expect(page.locator(".plan-task")).to_contain_text("海报3张，符合VI规范")
    expect(readonly(page, "deliverable_summary").locator(".value")).to_have_text("海报3张已完成")
    choose(page, "acceptance_result", "退回修改")
    page.fill("#f-acceptance_problem", problem)
    submit(page)

    become(page, "songyu")
    page.goto(f"{page.base_url}/notifications")  # she is told of the return, and why; the notice opens the task
    returned = page.locator('li[data-kind="return"]').first
    expect(returned).to_contain_text(problem)
    returned.locator('a[data-link="task"]').click()
    expect(readonly(page, "acceptance_problem").locator(".value")).to_have_text(problem)
    expect(page.locator("#f-deliverable_summary")).to_have_value("海报3张已完成")  # to revise
    choose(page, "work_outcome", "提交成果")
    page.fill("#f-deliverable_summary", "海报3张，已加活动二维码")
    submit(page)

    become(page, "xiaowang")
    open_task(page, "accept_deliverable", number)
    expect(page.locator("#f-acceptance_problem")).to_have_value("")  # asked afresh, not the last return's
    choose(page, "acceptance_result", "验收通过")
    submit(page)

    become(page, "qianyun")
    open_task(page, "execute_task", number)
    choose(page, "progress_status", "已完成")
    choose(page, "work_outcome", "提交成果")
    page.fill("#f-deliverable_summary", "3款产品的功能说明已完成")
    submit(page)

    become(page, "xiaowang")
    open_task(page, "accept_deliverable", number)
    choose(page, "acceptance_result", "验收通过")
    submit(page)

    # ---- 7. archive, retrospective, satisfaction, lessons -------------------------------------
    become(page, "lijingli")
    claim_and_open(page, "archive_request", number)
    page.check("#f-archive_complete")
    page.fill("#f-archive_note", "资料齐全，已归档")
    submit(page)

    become(page, "zhangzongjian")
    open_task(page, "retrospective", number)
    tick(page, "retro_participants", ["MKT", "PRD", "SAL"])
    page.fill("#f-retro_goal", "活动期间销售额同比增长30%")
    page.fill("#f-retro_result", "销售额同比增长35%")
    page.fill("#f-retro_highlights", "冲突当周解决")
    page.fill("#f-retro_problems", "销售部人手评估偏晚")
    page.fill("#f-retro_improvements", "立项时即评估各部门人手")
    submit(page)

    become(page, "xiaowang")
    open_task(page, "rate_satisfaction", number)
    page.fill("#f-satisfaction", "5")
    page.fill("#f-satisfaction_comment", "协作顺畅")
    submit(page)

    become(page, "lijingli")
    claim_and_open(page, "distill_lessons", number)
    page.fill("#f-lesson_title", "方案审批前先评估人手")
    page.fill("#f-lesson_body", "资源冲突在审批阶段暴露，宜在反馈阶段写明人手")
    submit(page)
    assert_not_in_inbox(page, "distill_lessons")

    # ---- the request page: completed, with the diagram, the Gantt chart and the timeline -------
    become(page, "xiaowang")
    open_request(page, number, "已完成")
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "completed")
    expect(page.locator("[data-status]")).to_have_text("已完成")
    expect(page.locator("[data-field=lead_dept]")).to_have_text("市场部")
    expect(page.locator("#diagram.ready svg").first).to_be_visible()
    expect(page.locator("svg.gantt g.row")).to_have_count(2)
    expect(page.locator("table.plan-tasks tbody tr")).to_have_count(2)
    expect(page.locator("table.plan-tasks tbody tr").nth(1)).to_contain_text("技术部2人支援")  # the revision
    expect(page.locator("#plan h2 small")).to_contain_text("第 2 版")
    timeline = page.locator("#timeline li")
    expect(timeline.filter(has_text="本周出差，由宋雨确认")).to_have_count(1)
    expect(page.locator('#timeline li[data-event="task_transferred"]')).to_have_count(1)
    expect(timeline.filter(has_text=problem)).to_have_count(1)
    expect(timeline.filter(has_text=problem)).to_contain_text("退回修改")
    expect(page.locator("#timeline li[data-event=instance_completed]")).to_have_count(1)
    expect(page.locator("[data-satisfaction]")).to_have_attribute("data-satisfaction", "5")
    snap(page, "request-page")


def test_a_meeting_time_typed_on_a_task_form_is_kept_to_the_minute(page):
    page.set_default_timeout(10_000)
    become(page, "xiaoli")
    page.click("a[data-nav=new]")
    page.click("a[data-process=conflict_resolution]")
    page.wait_for_url("**/requests/new?process=conflict_resolution")
    page.fill("#f-conflict_topic", "客服投诉响应超时")
    tick(page, "conflict_parties", ["PRD", "SAL"])
    page.fill("#f-conflict_description", "产品部未及时提供技术支持，销售部客户投诉增加")
    with page.expect_navigation():
        page.click("button[name=action][value=submit]")
    number = re.search(r"XMBG-\d{9}", flash(page).inner_text()).group(0)

    become(page, "lijingli")
    claim_and_open(page, "classify_conflict", number)
    choose(page, "conflict_type", "职责分歧")
    page.fill("#f-conflict_meeting_time", f"{day(2)}T14:00")
    page.fill("#f-conflict_meeting_place", "2楼会议室")
    page.fill("#f-conflict_meeting_agenda", "明确技术支持流程")
    submit(page)
    open_request(page, number)
    meeting = page.locator("#meetings article[data-meeting] h3")
    expect(meeting).to_have_count(1)
    assert f"会议：{chinese_day(day(2))} 14:00" in meeting.inner_text()  # today: 会议：<that day> 13:54
