"""Sign-in, sign-out, CSRF, throttling, security headers, languages."""

from __future__ import annotations

from urllib.parse import unquote

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


def test_repeated_failures_are_throttled(client):
    codes = [sign_in(client, "xiaowang", "wrong-password").status_code for _ in range(11)]
    assert codes[:10] == [400] * 10 and codes[10] == 429
    assert sign_in(client, "xiaowang").status_code == 429  # even the right password, for a while
    assert sign_in(client, "songyu").status_code == 302  # another account is not held up


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
