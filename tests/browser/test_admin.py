"""A platform admin in Chromium: an organisation file refused with its problem shown, fixed and imported;
a working-calendar ruling set from the year view; a lesson approved and then found by the search."""

from __future__ import annotations

from engine.knowledge.lessons import propose_lesson
from tests.browser.conftest import shot, sign_in

ORG = """\
departments:
  - {id: QA, name: 质量部, parent: GM, head: zhouqing, interface: zhaolei}
users:
  - {id: zhouqing, name: 周青, department: QA, superior: wangzong}
  - {id: zhaolei, name: 赵磊, department: %s, superior: zhouqing}
"""


def _upload(page, text: str) -> None:
    page.set_input_files("input[name=org_file]", files=[{"name": "质量部.yaml", "mimeType": "application/yaml",
                                                         "buffer": text.encode()}])
    page.click("form[data-form=import] button[type=submit]")
    page.wait_for_load_state()


def test_an_admin_imports_a_fixed_org_file_rules_on_a_day_and_approves_a_lesson(page, server):
    ctx = server[1]
    lesson = propose_lesson(ctx, title="协调会前一天发出议程", tags="会议,协调", user="zhangzongjian",
                            body="协调会至少提前 24 小时发出议程和参会名单，会上只讨论分歧。")
    sign_in(page, "lijingli")
    page.click("a[data-nav=admin]")
    page.click("a[data-admin-tab=org]")

    _upload(page, ORG % "QAX")
    problems = page.inner_text("[data-problems]")
    assert "未导入任何内容" in problems and "质量部.yaml users[2]：部门“QAX”不存在" in problems
    assert page.locator("tr[data-dept=QA]").count() == 0
    shot(page, "admin-org-import-refused")
    _upload(page, ORG % "QA")
    assert "已导入：1 个部门，2 名人员" in page.inner_text("p.flash")
    assert page.inner_text("tr[data-dept=QA] td[data-post=interface]") == "赵磊"

    page.goto(f"{page.base_url}/admin/calendar?year=2026")
    page.click("td[data-day='2026-10-09'] a")  # a Friday between the National Day holiday and its make-up Saturday
    assert page.input_value("#rule-day") == "2026-10-09" and page.is_checked("input[name=kind][value=rest]")
    page.fill("#rule-note", "公司周年庆")
    page.click("form[data-form=rule] button[type=submit]")
    page.wait_for_load_state()
    assert "2026-10-09 已设为休息日。" in page.inner_text("p.flash")
    assert "ruled" in page.get_attribute("td[data-day='2026-10-09']", "class")
    assert "公司周年庆" in page.inner_text("tr[data-ruling='2026-10-09']")
    shot(page, "admin-calendar")

    page.click("a[data-admin-tab=knowledge]")
    page.click(f"article[data-lesson='{lesson}'] button[value=approve]")
    page.wait_for_load_state()
    assert "已通过“协调会前一天发出议程”" in page.inner_text("p.flash")
    page.fill("#knowledge-q", "议程 参会名单")
    page.click("form[data-form=search] button[type=submit]")
    page.wait_for_load_state()
    assert page.locator(f"li[data-result='{lesson}']").count() == 1
    shot(page, "admin-knowledge")
