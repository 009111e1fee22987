"""Signing in and switching the language in a real browser."""

from __future__ import annotations

from tests.browser.conftest import shot, sign_in


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
