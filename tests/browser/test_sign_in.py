"""Signing in and switching the language in a real browser."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, shot, sign_in


def test_a_demo_user_signs_in_sees_the_inbox_and_switches_to_english(page):
    page.goto(f"{page.base_url}/inbox")
    assert page.url.endswith("/login?next=%2Finbox") or "/login" in page.url
    sign_in(page, "zhangzongjian")
    assert page.inner_text("[data-user]").startswith("张总监")
    assert page.locator("a[data-tab=mine]").inner_text().startswith("我的任务")
    assert page.get_attribute("html", "lang") == "zh-CN"
    shot(page, "inbox-empty")
    page.click("button[lang=en]")
    page.wait_for_load_state()
    assert page.locator("a[data-tab=mine]").inner_text().startswith("My tasks")
    assert page.get_attribute("html", "lang") == "en"
    page.click("text=Sign out")
    page.wait_for_url("**/login")


def test_a_wrong_password_keeps_the_user_out(page):
    page.goto(f"{page.base_url}/login")
    page.fill("#username", "xiaowang")
    page.fill("#password", "not-the-password")
    page.click("button[type=submit].primary")
    assert "用户名或密码不正确" in page.inner_text("main")
    assert "/login" in page.url


def test_a_user_changes_the_password_and_the_other_browser_is_signed_out(page, browser):
    other = browser.new_context(locale="zh-CN")
    laptop = other.new_page()
    laptop.base_url = page.base_url
    sign_in(laptop, "xiaowang")
    sign_in(page, "xiaowang")
    page.click("a[data-nav=settings]")
    page.wait_for_url("**/settings")
    form = page.locator('form[data-form="password"]')

    def change(confirm: str) -> None:
        for field, value in (("current", PASSWORD), ("new", "my-own-secret"), ("confirm", confirm)):
            page.fill(f"#password-{field}", value)
        with page.expect_navigation():
            form.locator("button.primary").click()

    change("my-own-secreT")
    expect(form.locator('[data-field="confirm"] .error')).to_have_text("两次输入的新密码不一致。")
    change("my-own-secret")
    expect(page.locator("p.flash")).to_contain_text("密码已修改")
    shot(page, "settings-password")

    laptop.goto(f"{page.base_url}/inbox")  # the other browser's session has ended
    expect(laptop.locator("#username")).to_be_visible()
    laptop.fill("#username", "xiaowang")
    laptop.fill("#password", "my-own-secret")
    laptop.click("button[type=submit].primary")
    laptop.wait_for_url(f"{page.base_url}/inbox")
    other.close()
    page.goto(f"{page.base_url}/inbox")  # this one stayed signed in
    expect(page.locator("[data-user]")).to_contain_text("小王")
