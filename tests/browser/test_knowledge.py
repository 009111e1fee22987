"""The knowledge base in a real browser, after a scenario run: a request carried through all six steps by
the scenario driver (its lesson approved) is found by a Chinese word and linked to its request; an admin
writes a page of the collaboration guide citing the lesson and staff read it; the 协作之星 board and the
directory. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from engine.knowledge import guide
from tests.browser.conftest import shot
from tests.browser.test_six_steps import become
from tests.integration.test_knowledge_pages_data import close_request
from tests.scenarios.driver import Flow


def test_knowledge_search_guide_board_and_directory_in_the_browser(page, server):
    page.set_default_timeout(10_000)
    ctx = server[1]
    closed = close_request(Flow(ctx, None), score=5, highlights="产品部提前交付功能说明", named=["SAL"],
                           lesson=("大促协作：数据需求提前提出", "客户数据涉及保密审核，需预留时间", "大促,数据"))

    # ---- staff search a Chinese word and follow the lesson to its request ---------------------
    become(page, "xiaowang")
    page.click("a[data-nav=knowledge]")
    page.wait_for_url("**/knowledge")
    page.fill("#knowledge-q", "保密审核")
    with page.expect_navigation():
        page.click('form[data-form="search"] button[type=submit]')
    results = page.locator(".results")
    expect(results).to_have_attribute("data-total", "1")
    entry = page.locator(f'li[data-entry="{closed["lesson_id"]}"]')
    expect(entry.locator("h3")).to_have_text("大促协作：数据需求提前提出")
    expect(entry.locator(".excerpt")).to_contain_text("保密审核")
    expect(page.locator('ul[data-facet="type"] a[data-value="项目协作"] .count')).to_have_text("1")
    shot(page, "knowledge-search")

    # the 协作之星 board of this quarter: the request's departments with their reasons
    board = page.locator('section[data-section="stars"]')
    expect(board.locator('li[data-star="PRD"]')).to_have_attribute("data-stars", "1")
    expect(board.locator('li[data-star="SAL"] [data-reason="named"]')).to_be_visible()
    expect(board.locator(f'li[data-star="PRD"] tr[data-request="{closed["request_no"]}"]')).to_have_count(1)

    entry.locator(f'a[data-request="{closed["request_no"]}"]').click()
    page.wait_for_url(f"**/requests/{closed['instance_id']}")
    expect(page.locator(".request-head")).to_have_attribute("data-request", closed["request_no"])

    # ---- an admin writes a guide page citing the lesson --------------------------------------
    become(page, "lijingli")
    page.goto(f"{page.base_url}/knowledge/guide")
    page.click('a[data-action="new-page"]')
    page.wait_for_url("**/knowledge/guide/new")
    page.fill("#guide-title", "需求发起")
    page.fill("#guide-body", "## 数据需求\n涉及客户数据的需求提前 **10 天** 提出，参见。")
    page.fill("#guide-note", "初稿")
    # the lesson to cite is looked up beside the text: Enter searches, what was typed stays, nothing is saved
    page.fill("#cite-q", "保密审核")
    with page.expect_navigation():
        page.press("#cite-q", "Enter")
    expect(page.locator("#guide-body")).to_have_value("## 数据需求\n涉及客户数据的需求提前 **10 天** 提出，参见。")
    expect(page.locator("#guide-title")).to_have_value("需求发起")
    expect(page.locator("#guide-note")).to_have_value("初稿")
    found = page.locator(f'section[data-section="cite"] li[data-entry="{closed["lesson_id"]}"]')
    expect(found).to_contain_text("大促协作：数据需求提前提出")
    page.locator("#guide-body").evaluate("b => { b.focus(); b.setSelectionRange(b.value.length - 1, "
                                         "b.value.length - 1); }")
    found.locator("button[data-cite]").click()  # put where the cursor was: before the 。
    expect(page.locator("#guide-body")).to_have_value(
        f"## 数据需求\n涉及客户数据的需求提前 **10 天** 提出，参见[[kb:{closed['lesson_id']}]]。")
    assert guide.list_pages(ctx) == []
    with page.expect_navigation():
        page.click('form[data-form="guide-page"] button.primary')
    expect(page.locator("p.flash")).to_contain_text("已新建页面")

    # ---- staff read it -------------------------------------------------------------------------
    become(page, "xiaowang")
    page.click("a[data-nav=knowledge]")
    page.click('[data-knowledge-tab="guide"]')
    page.wait_for_url("**/knowledge/guide")
    article = page.locator("article.guide-page")
    expect(article.locator("h2", has_text="数据需求")).to_be_visible()
    expect(article.locator("strong")).to_have_text("10 天")
    cited = article.locator(f'a[href="/knowledge/entries/{closed["lesson_id"]}"]')
    expect(cited).to_have_text("「大促协作：数据需求提前提出」")
    expect(article.locator('[data-action="edit"]')).to_have_count(0)
    shot(page, "knowledge-guide")
    cited.click()
    page.wait_for_url(f"**/knowledge/entries/{closed['lesson_id']}")
    expect(page.locator("article.lesson .body")).to_have_text("客户数据涉及保密审核，需预留时间")

    # ---- the directory ---------------------------------------------------------------------------
    page.click("a[data-nav=directory]")
    page.wait_for_url("**/directory")
    expect(page.locator("tr[data-dept]")).to_have_count(11)
    page.fill("#directory-q", "产品")
    with page.expect_navigation():
        page.click('form[data-form="search"] button[type=submit]')
    row = page.locator('tr[data-dept="PRD"]')
    expect(page.locator("tr[data-dept]")).to_have_count(1)
    expect(row.locator('td[data-post="head"] strong')).to_have_text("陈总监")
    expect(row.locator('td[data-post="interface"] strong')).to_have_text("赵经理")
    row.locator("details summary").click()
    expect(row.locator('li[data-post="interface"]')).to_have_text(re.compile(r"赵经理：.*至今"))
    shot(page, "directory")
