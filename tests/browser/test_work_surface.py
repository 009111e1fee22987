"""The work surface at a desk (1400 px) and on a phone (390 px): approvers decide with the request and
the earlier decisions above the buttons; the requester follows the request on its page (where it
stands, the request, a diagram opened on the active step, material added); no page scrolls sideways.
Screenshots: test-artifacts/task-page-*.png, request-page-*.png, inbox-*.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from engine.requests.requests import submit_request
from engine.workflow.instances import complete_task, describe_instance
from tests.browser.conftest import LIVE_REQUEST, shot, sign_in
from tests.scenarios import steps
from tests.scenarios.driver import Flow
from tests.scenarios.test_approver_rules import _deploy, _variant


def _context(browser, server, width: int):
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport={"width": width, "height": 900 if width > 600 else 844})
    tab = context.new_page()
    tab.errors = []
    tab.on("pageerror", lambda e: tab.errors.append(str(e)))
    tab.base_url = server[0]
    return context, tab


def _no_sideways_scroll(tab) -> None:
    width = tab.viewport_size["width"]
    assert tab.evaluate("document.documentElement.scrollWidth") <= width, tab.url


def _filed(ctx) -> tuple[str, str]:
    """小王's request, signed off by 张总监: (instance id, the admins' review task id)."""
    started = submit_request(ctx, "xiaowang", LIVE_REQUEST)
    head_task = describe_instance(ctx, started.instance_id)["open_tasks"][0]["task_id"]
    complete_task(ctx, head_task, "zhangzongjian",
                  {"signoff_decision": "同意", "signoff_comment": "预算合理，同意提交"})
    review = describe_instance(ctx, started.instance_id)["open_tasks"][0]
    assert review["element_id"] == "admin_review"
    return started.instance_id, review["task_id"]


@pytest.mark.parametrize("width", [1400, 390])
def test_the_reviewer_decides_with_the_request_and_the_heads_reasons_in_view(browser, server, width):
    _iid, task_id = _filed(server[1])
    context, tab = _context(browser, server, width)
    sign_in(tab, "lijingli")
    tab.goto(f"{tab.base_url}/inbox?tab=group")  # the admins' review, offered to claim
    expect(tab.locator(f'tr[data-task="{task_id}"]')).to_contain_text("审核需求完整性与可行性")
    shot(tab, f"inbox-{width}")
    _no_sideways_scroll(tab)
    urgency, toggle = tab.locator('select[name="urgency"]'), tab.locator('label[data-fold="filters"]')
    if width < 600:  # on a phone only the search shows until the filters are unfolded
        expect(tab.locator('input[name="text"]')).to_be_visible()
        expect(urgency).to_be_hidden()
        toggle.click()
        expect(urgency).to_be_visible()
    else:
        expect(toggle).to_be_hidden()
        expect(urgency).to_be_visible()
    tab.goto(f"{tab.base_url}/tasks/{task_id}")
    request = tab.locator('[data-story="request"]')
    expect(request).to_contain_text(LIVE_REQUEST["background"])
    expect(request).to_contain_text(LIVE_REQUEST["goal"])
    expect(request.locator('[data-field="involved_depts"] .value')).to_have_text("市场部、产品部、销售部")
    deciding = tab.locator('[data-story="deciding"] [data-step="dept_head_signoff"]')
    expect(deciding).to_contain_text("预算合理，同意提交")
    expect(deciding).to_contain_text("张总监")
    form = tab.locator('form[data-form="complete"]')
    assert request.bounding_box()["y"] < deciding.bounding_box()["y"] < form.bounding_box()["y"]
    _no_sideways_scroll(tab)
    shot(tab, f"task-page-{width}")
    tab.click('[data-op="transfer"] summary')
    expect(tab.locator('[data-op="transfer"] input.picker-search')).to_have_attribute("placeholder", "搜索…")
    tab.click('[data-op="transfer"] summary')
    request.locator("summary").click()  # folds away, leaving the form in reach
    expect(request.locator('[data-field="background"]')).to_be_hidden()
    tab.locator('input[name="review_decision"][value="通过"]').check()
    tab.fill("#f-review_comment", "信息完整")
    tab.click('form[data-form="complete"] button.primary')
    expect(tab.locator("p.flash")).to_contain_text("已完成")
    assert tab.errors == []
    context.close()


@pytest.mark.parametrize("width", [1400, 390])
def test_the_requester_follows_the_request_on_its_page_and_adds_material(browser, server, width, tmp_path):
    iid, _task_id = _filed(server[1])
    context, tab = _context(browser, server, width)
    sign_in(tab, "xiaowang")
    tab.goto(f"{tab.base_url}/requests/{iid}")
    standing = tab.locator("#standing")
    expect(standing.locator('[data-open-task="admin_review"]')).to_contain_text("审核需求完整性与可行性")
    expect(standing).to_contain_text("平台管理员（待认领）")
    expect(tab.locator("#request")).to_contain_text(LIVE_REQUEST["details"])
    assert standing.bounding_box()["y"] < tab.locator("#request").bounding_box()["y"] < \
        tab.locator("#process").bounding_box()["y"]
    diagram = tab.locator("#diagram")
    expect(diagram).to_have_class("diagram ready", timeout=15000)
    expect(diagram).to_have_attribute("data-active", "admin_review")
    active = tab.locator('#diagram [data-element-id="admin_review"]').first
    box, holder = active.bounding_box(), diagram.bounding_box()
    assert holder["x"] <= box["x"] and box["x"] + box["width"] <= holder["x"] + holder["width"]  # opened on it
    before = tab.evaluate("document.querySelector('#diagram .viewport').getAttribute('transform')")
    tab.click('[data-zoom-by="in"]')
    assert tab.evaluate("document.querySelector('#diagram .viewport').getAttribute('transform')") != before
    expect(tab.locator('details#progress')).not_to_have_attribute("open", "")  # empty: folded
    _no_sideways_scroll(tab)
    shot(tab, f"request-page-{width}")
    material = tmp_path / "预算说明.txt"
    material.write_text("预算：20万元", "utf-8")
    tab.click('[data-op="add-files"] summary')
    tab.set_input_files("#add-files", str(material))
    tab.click('[data-op="add-files"] button.primary')
    expect(tab.locator("p.flash.success")).to_contain_text("已上传：预算说明.txt")
    expect(tab.locator("details#attachments")).to_contain_text("预算说明.txt")
    assert tab.errors == []
    context.close()


PAGES = {
    "xiaowang": ["/inbox", "/requests", "/requests/new", "/notifications", "/knowledge", "/directory", "/settings",
                 "/requests/{iid}"],
    "lijingli": ["/admin", "/admin/users", "/admin/org", "/admin/calendar", "/admin/jobs", "/dashboard", "/modeller",
                 "/tasks/{task}"],
    "shenjie": ["/audit", "/audit/requests/{iid}/history", "/audit/requests/{iid}/replay", "/audit/sign-ins"],
}


def test_no_page_scrolls_sideways_on_a_phone(browser, server):
    iid, task_id = _filed(server[1])
    for user, paths in PAGES.items():
        context, tab = _context(browser, server, 390)
        sign_in(tab, user)
        for path in paths:
            answer = tab.goto(tab.base_url + path.format(iid=iid, task=task_id))
            assert answer.status == 200, path
            tab.wait_for_load_state("networkidle")
            _no_sideways_scroll(tab)
            nav = tab.locator("nav.main").bounding_box()
            assert nav["x"] >= 0 and nav["x"] + nav["width"] <= 390  # the navigation strip scrolls itself
        assert tab.errors == []
        context.close()


def test_a_file_over_the_limit_is_refused_before_sending_and_what_was_typed_stays(browser, server, tmp_path):
    context, tab = _context(browser, server, 390)
    sign_in(tab, "xiaowang")
    tab.goto(f"{tab.base_url}/requests/new")
    limits = tab.locator('[data-field="attachments"] .file-limits')
    expect(limits).to_contain_text("每个文件不超过 20 MB")
    tab.fill("#f-title", "仓储扩容协调")
    tab.fill("#f-background", "旺季库存不足")
    big = tmp_path / "全部照片.zip"
    big.write_bytes(b"\0" * (20 * 1024 * 1024 + 1))
    tab.set_input_files("#f-attachments", str(big))
    message = tab.locator("#f-attachments").evaluate("e => e.validationMessage")
    assert message == "“全部照片.zip”超过 20 MB，请压缩或拆分后再上传。"
    tab.click("button[name=action][value=submit]")
    assert tab.url.endswith("/requests/new")  # not sent
    expect(tab.locator("#f-title")).to_have_value("仓储扩容协调")
    expect(tab.locator("#f-background")).to_have_value("旺季库存不足")
    assert tab.errors == []
    context.close()


@pytest.mark.parametrize("width", [1400, 390])
def test_a_head_approves_two_requests_in_one_batch_from_the_inbox(browser, server, width):
    ctx = server[1]
    filed = [submit_request(ctx, "xiaowang", {**LIVE_REQUEST, "title": title}).instance_id
             for title in ("海报设计", "渠道投放")]
    context, tab = _context(browser, server, width)
    sign_in(tab, "zhangzongjian")
    picks = tab.locator("label[data-batchable]")
    expect(picks).to_have_count(2)
    expect(picks.first).to_contain_text("选入批量：同意")
    for n in range(2):
        picks.nth(n).locator("input").check()
    tab.click("#batch-form summary")
    tab.fill("#batch-comment", "同意提交")
    _no_sideways_scroll(tab)
    shot(tab, f"inbox-batch-{width}")
    tab.click("[data-action=batch-approve]")
    expect(tab.locator("p.flash")).to_contain_text("已批量办理 2 项任务。")
    expect(picks).to_have_count(0)
    for iid in filed:
        (task,) = describe_instance(ctx, iid)["open_tasks"]
        assert task["element_id"] == "admin_review"
    assert tab.errors == []
    context.close()


@pytest.mark.parametrize("width", [1400, 390])
def test_or_sign_one_head_decides_and_the_others_task_is_withdrawn_with_a_notice(browser, server, width):
    ctx = server[1]
    _deploy(ctx, _variant(approve_plan={"voteRule": "any", "voteAgree": "approval_decision=同意"}))
    flow = Flow(ctx, clock=None)
    steps.to_plan(flow)
    steps.write_plan(flow)
    mine = flow.task("approve_plan", steps.HEADS["PRD"])["task_id"]
    context, tab = _context(browser, server, width)
    sign_in(tab, steps.HEADS["PRD"])
    tab.goto(f"{tab.base_url}/tasks/{mine}")
    expect(tab.locator('[data-story="deciding"]')).to_contain_text(steps.PLAN[0]["title"])  # the plan in view
    tab.locator('input[name="approval_decision"][value="同意"]').check()
    tab.fill("#f-approval_comment", "同意方案")
    tab.click('form[data-form="complete"] button.primary')
    expect(tab.locator("p.flash")).to_contain_text("已完成")
    context.close()
    context, tab = _context(browser, server, width)
    sign_in(tab, steps.HEADS["SAL"])  # the other head: nothing left to decide, and told so
    expect(tab.locator('tr[data-element="approve_plan"]')).to_have_count(0)
    tab.goto(f"{tab.base_url}/notifications")
    expect(tab.locator("li[data-kind=info]").first).to_contain_text("已撤回")
    _no_sideways_scroll(tab)
    shot(tab, f"vote-withdrawn-{width}")
    assert tab.errors == []
    context.close()
