"""Sign-in, sign-out, CSRF, throttling, security headers, languages."""

from __future__ import annotations

import re
from urllib.parse import unquote

from engine.org.sign_in import SignInPolicy
from tests.webui.conftest import PASSWORD, csrf_of, sign_in


def test_sign_in_shows_the_inbox_and_sign_out_ends_the_session(client):
    assert client.get("/inbox").status_code == 302  # not signed in: to the login page
    answer = sign_in(client, "zhangzongjian")
    assert answer.status_code == 302 and answer.headers["Location"] == "/inbox"
    page = client.get("/inbox").get_data(as_text=True)
    assert "张总监" in page and "待办" in page
    cookie = next(c for c in client._cookies.values() if c.key == "session")
    assert cookie.http_only
    token = csrf_of(page)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/inbox").status_code == 302


def test_the_sign_in_prompt_speaks_the_readers_language(app):
    for language, prompt in (("zh-CN", "请先登录后再访问此页面。"), ("en", "Please sign in to open this page.")):
        reader = app.test_client()
        login = reader.get("/inbox", headers={"Accept-Language": language}, follow_redirects=True)
        html = login.get_data(as_text=True)
        assert prompt in html and "Please log in to access this page" not in html


def _cookie(client) -> str:
    return next(c for c in client._cookies.values() if c.key == "session").value


def _with_cookie(app, value: str):
    other = app.test_client()
    other.set_cookie("session", value)
    return other


def test_a_cookie_copied_before_sign_out_opens_no_page_after_it(app, client):
    sign_in(client, "zhangzongjian")
    page = client.get("/inbox").get_data(as_text=True)
    copied = _cookie(client)
    assert _with_cookie(app, copied).get("/inbox").status_code == 200  # the copy works while signed in
    client.post("/logout", data={"csrf_token": csrf_of(page)})
    for path in ("/inbox", "/settings", "/requests", "/api/v1/me"):
        assert _with_cookie(app, copied).get(path).status_code in (302, 401), path
    assert sign_in(client, "zhangzongjian").status_code == 302  # signing in again starts a new session
    assert client.get("/inbox").status_code == 200 and _with_cookie(app, copied).get("/inbox").status_code == 302


def test_a_session_ends_when_idle_and_at_its_lifetime(app, client, clock):
    sign_in(client, "xiaowang")
    for _ in range(5):  # busy for 10 hours: never idle for long
        clock.advance(minutes=119)
        assert client.get("/inbox").status_code == 200
    clock.advance(hours=2, minutes=6)  # 12 hours and 1 minute after signing in, seen 2 hours ago at most
    assert client.get("/inbox").status_code == 302
    sign_in(client, "xiaowang")
    clock.advance(minutes=121)  # idle for longer than 2 hours
    assert client.get("/inbox").status_code == 302
    app.extensions["xiezuo_config"].session_idle_minutes = 30  # as XIEZUO_SESSION_IDLE_MINUTES=30 sets it
    sign_in(client, "xiaowang")
    clock.advance(minutes=29)
    assert client.get("/inbox").status_code == 200
    clock.advance(minutes=31)
    assert client.get("/inbox").status_code == 302


def test_the_session_settings_are_read_from_the_environment():
    from webui.config import WebConfig

    config = WebConfig.from_environ({"XIEZUO_SESSION_IDLE_MINUTES": "30", "XIEZUO_SESSION_MAX_HOURS": "8",
                                     "XIEZUO_LOGIN_LOCK_AFTER": "5", "XIEZUO_LOGIN_LOCK_MINUTES": "60"})
    policy = config.sign_in_policy
    assert (policy.idle_minutes, policy.max_hours, policy.lock_after, policy.lock_minutes) == (30, 8, 5, 60)
    assert WebConfig.from_environ({}).sign_in_policy == SignInPolicy()


def test_the_organisations_language_is_read_from_the_environment():
    from webui.config import WebConfig

    assert [(c.engine.locale, c.default_locale) for c in map(WebConfig.from_environ, (
        {}, {"XIEZUO_LOCALE": "en"}, {"XIEZUO_LOCALE": "en-GB"}, {"XIEZUO_LOCALE": "zh_CN"}))] == [
        ("zh_CN", "zh_CN"), ("en", "en"), ("en", "en"), ("zh_CN", "zh_CN")]


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(client):
    for user, password in (("zhangzongjian", "wrong-password"), ("nobody", PASSWORD)):
        answer = sign_in(client, user, password)
        assert answer.status_code == 400
        assert "用户名或密码不正确" in answer.get_data(as_text=True)
    assert client.get("/inbox").status_code == 302


def test_forms_without_a_csrf_token_are_refused(client):
    answer = client.post("/login", data={"username": "zhangzongjian", "password": PASSWORD})
    assert answer.status_code == 400
    assert client.get("/inbox").status_code == 302


def test_repeated_failures_lock_the_name_for_a_while_said_in_the_readers_language(app, client, clock):
    for _ in range(9):
        answer = sign_in(client, "xiaowang", "wrong-password")
        assert answer.status_code == 400 and "用户名或密码不正确" in answer.get_data(as_text=True)
    locked = sign_in(client, "xiaowang", "wrong-password")  # the tenth in 15 minutes
    text = locked.get_data(as_text=True)
    assert locked.status_code == 429 and "该账号已暂时锁定" in text and "15 分钟后（17:15 起）" in text
    assert "per 1" not in text and 15 * 60 - 10 <= int(locked.headers["Retry-After"]) <= 15 * 60
    assert sign_in(client, "xiaowang").status_code == 429  # even the right password, for a while
    assert sign_in(client, "songyu").status_code == 302  # another account is not held up
    english = app.test_client()
    english.post("/language/en", data={"csrf_token": csrf_of(english.get("/login").get_data(as_text=True)),
                                       "next": "/login"})
    clock.advance(minutes=5)
    answer = sign_in(english, "xiaowang")
    text = answer.get_data(as_text=True)
    assert answer.status_code == 429 and "This account is locked" in text and "in 10 minutes (at 17:15)" in text
    assert "锁定" not in text
    clock.advance(minutes=10)
    assert sign_in(english, "xiaowang").status_code == 302  # the lock is over


def test_names_that_are_no_account_lock_alike(client):
    """A lock must not tell which names exist."""
    codes = [sign_in(client, "nobody-here", "wrong-password").status_code for _ in range(10)]
    assert codes == [400] * 9 + [429]
    assert "该账号已暂时锁定" in sign_in(client, "nobody-here", PASSWORD).get_data(as_text=True)


def test_successful_sign_ins_do_not_count_against_the_throttle(app, client):
    app.extensions["xiezuo_config"].login_limit = "3 per hour"  # failed sign-ins from one address
    for user in ["xiaowang", "songyu"] * 4:  # each signs in more often than the limit allows failures
        assert sign_in(client, user).status_code == 302, user
        client.post("/logout", data={"csrf_token": csrf_of(client.get("/inbox").get_data(as_text=True))})
    codes = [sign_in(client, f"typo-{n}", "wrong-password").status_code for n in range(3)]
    assert codes == [400] * 3
    refused = sign_in(client, "xiaowang")  # from this address, whichever the name, for a while
    text = refused.get_data(as_text=True)
    assert refused.status_code == 429 and "此网络地址登录失败次数过多" in text and "per 1 hour" not in text
    assert 0 < int(refused.headers["Retry-After"]) <= 3600


# Each would lead a browser to another site or break the Location header: browsers drop tabs and line
# breaks inside a URL, read a backslash as a slash, and take "//host" or "scheme:" as another site.
OFF_SITE = ["//evil.example/x", "/%09/evil.example/", "/%0A/x", "/%0D/evil.example", "/%0D%0ASet-Cookie:%20a=b",
            "%09//evil.example", "/%5Cevil.example", "/%5C%5Cevil.example", "%5C%5Cevil.example", "/%20/evil.example",
            "%20//evil.example", "/%E3%80%80/evil.example", "/%E2%80%8B/evil.example", "/%00/evil.example",
            "/%7F/x", "https://evil.example/", "https:evil.example", "javascript:alert(1)", "evil.example",
            "///evil.example", "/%0B/x", "/%0C/x", "/%C2%A0/evil.example", ""]


def test_no_next_leads_off_the_site_or_breaks_the_header(client):
    for target in OFF_SITE[:4]:
        page = client.get(f"/login?next={target}")
        answer = client.post(f"/login?next={target}", data={
            "username": "xiaowang", "password": PASSWORD, "csrf_token": csrf_of(page.get_data(as_text=True))})
        assert answer.status_code == 302 and answer.headers["Location"] == "/inbox", target
        client.post("/logout", data={"csrf_token": csrf_of(client.get("/inbox").get_data(as_text=True))})
    token = csrf_of(client.get("/login").get_data(as_text=True))
    for target in OFF_SITE:
        answer = client.post("/language/en", data={"csrf_token": token, "next": unquote(target)})
        assert answer.status_code == 302 and answer.headers["Location"] == "/inbox", target


def test_a_next_on_the_site_is_followed(client):
    token = csrf_of(client.get("/login").get_data(as_text=True))
    for target in ("/requests?q=618&status=open", "/knowledge/guide/%E6%B5%81%E7%A8%8B", "/audit/processes",
                   "/settings#password", "/requests?q=//evil.example"):
        answer = client.post("/language/zh_CN", data={"csrf_token": token, "next": target})
        assert answer.headers["Location"] == target
    page = client.get("/login?next=/settings")
    answer = client.post("/login?next=/settings", data={
        "username": "xiaowang", "password": PASSWORD, "csrf_token": csrf_of(page.get_data(as_text=True))})
    assert answer.headers["Location"] == "/settings"


def test_security_headers(client):
    headers = client.get("/login").headers
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "script-src 'self'" in headers["Content-Security-Policy"]


def test_the_language_can_be_switched_to_english(client):
    sign_in(client, "xiaowang")
    page = client.get("/inbox").get_data(as_text=True)
    assert "我的任务" in page
    client.post("/language/en", data={"csrf_token": csrf_of(page), "next": "/inbox"})
    english = client.get("/inbox").get_data(as_text=True)
    assert "My tasks" in english and "我的任务" not in english
    assert 'lang="en"' in english


def test_a_reader_who_asks_for_no_language_gets_the_organisations(app):
    def language(**headers) -> str:
        return re.search(r'<html lang="([^"]+)"', app.test_client().get("/login", headers=headers)
                         .get_data(as_text=True)).group(1)

    assert (language(), language(**{"Accept-Language": "en"})) == ("zh-CN", "en")
    app.extensions["xiezuo_config"].default_locale = "en"  # XIEZUO_LOCALE=en
    assert language() == "en"
    assert language(**{"Accept-Language": "zh-CN,zh;q=0.9"}) == "zh-CN"  # asking for Chinese still gets it
