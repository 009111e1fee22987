"""Sign-in, sign-out, CSRF, throttling, security headers, languages."""

from __future__ import annotations

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


def test_an_open_redirect_is_not_followed(client):
    page = client.get("/login?next=//evil.example/x")
    answer = client.post("/login?next=//evil.example/x", data={
        "username": "xiaowang", "password": PASSWORD, "csrf_token": csrf_of(page.get_data(as_text=True))})
    assert answer.headers["Location"] == "/inbox"


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
