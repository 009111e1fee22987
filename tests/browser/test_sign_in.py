"""Signing in and switching the language in a real browser; an admin lifting a lock and a user choosing
their own password, at a desk's and a phone's width."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from engine.errors import AccountLocked, SignInFailed
from engine.org.accounts import reset_password
from engine.org.sign_in import SignInPolicy
from engine.org.sign_in import sign_in as sign_in_service
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


def _tab(browser, base_url: str, width: int):
    """A fresh browser at a desk's (1400 px) or a phone's (390 px) width; script errors fail the test."""
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport={"width": width, "height": 900 if width > 600 else 844})
    tab = context.new_page()
    tab.errors = []
    tab.on("pageerror", lambda e: tab.errors.append(str(e)))
    tab.base_url = base_url
    return context, tab


def _within_reach(tab, selector: str) -> None:
    """Visible, inside the window's width, and a touch target of at least 44 px."""
    box = tab.locator(selector).bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= tab.viewport_size["width"]
    assert box["height"] >= 44


@pytest.mark.parametrize("width", [1400, 390])
def test_an_admin_unlocks_an_account_that_failed_sign_ins_locked(browser, server, width):
    base_url, ctx = server
    for _ in range(10):
        with pytest.raises(SignInFailed if _ < 9 else AccountLocked):
            sign_in_service(ctx, "xiaowang", "not-the-password", "127.0.0.1", None, SignInPolicy())
    user_context, user = _tab(browser, base_url, width)
    user.goto(f"{base_url}/login")
    user.fill("#username", "xiaowang")
    user.fill("#password", PASSWORD)
    user.click("button[type=submit].primary")
    expect(user.locator("p.flash.error")).to_contain_text("该账号已暂时锁定")
    admin_context, admin = _tab(browser, base_url, width)
    sign_in(admin, "lijingli")
    admin.goto(f"{base_url}/admin/users/xiaowang")
    expect(admin.locator('[data-section="sign-in"] [data-fact="lock"]')).to_contain_text("已锁定至")
    expect(admin.locator('tr[data-event="account_locked"]')).to_have_count(1)
    _within_reach(admin, 'form[data-form="unlock"] button')
    shot(admin, f"admin-unlock-{width}")
    admin.click('form[data-form="unlock"] button')
    expect(admin.locator("p.flash")).to_contain_text("已解除锁定")
    expect(admin.locator('tr[data-event="account_unlocked"]')).to_have_count(1)
    expect(admin.locator('form[data-form="unlock"]')).to_have_count(0)
    user.fill("#username", "xiaowang")
    user.fill("#password", PASSWORD)
    user.click("button[type=submit].primary")
    user.wait_for_url(f"{base_url}/inbox")
    assert user.errors == [] and admin.errors == []
    user_context.close()
    admin_context.close()


@pytest.mark.parametrize("width", [1400, 390])
def test_a_user_given_a_password_by_an_admin_chooses_their_own_first(browser, server, width):
    base_url, ctx = server
    reset_password(ctx, "songyu", "admin-gave-it-1", "lijingli")
    context, tab = _tab(browser, base_url, width)
    tab.goto(f"{base_url}/requests")
    tab.fill("#username", "songyu")
    tab.fill("#password", "admin-gave-it-1")
    tab.click("button[type=submit].primary")
    tab.wait_for_url(lambda url: url.endswith("/password?next=/requests"))
    expect(tab.locator("h1")).to_have_text("设置自己的密码")
    expect(tab.locator("nav.main")).to_have_count(0)
    _within_reach(tab, 'form[data-form="choose-password"] button')
    for field, value in (("current", "admin-gave-it-1"), ("new", "宋雨自己的新密码"), ("confirm", "宋雨自己的新密码X")):
        tab.fill(f"#password-{field}", value)
    tab.click('form[data-form="choose-password"] button')
    expect(tab.locator('[data-field="confirm"] .error')).to_have_text("两次输入的新密码不一致。")
    shot(tab, f"choose-password-{width}")
    for field, value in (("current", "admin-gave-it-1"), ("new", "宋雨自己的新密码"), ("confirm", "宋雨自己的新密码")):
        tab.fill(f"#password-{field}", value)
    tab.click('form[data-form="choose-password"] button')
    tab.wait_for_url(f"{base_url}/requests")
    expect(tab.locator("p.flash")).to_contain_text("密码已设置")
    tab.goto(f"{base_url}/inbox")
    expect(tab.locator("[data-user]")).to_contain_text("宋雨")
    assert tab.errors == []
    context.close()
