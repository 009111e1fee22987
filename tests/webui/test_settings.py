"""Settings: language and time zone (times follow the reader's zone), personal API tokens."""

from __future__ import annotations

import re

from argon2 import PasswordHasher

from engine.db.models import AppUser
from engine.org.accounts import create_token, reset_password
from engine.requests.requests import submit_request
from tests.scenarios.steps import REQUEST
from tests.webui.conftest import PASSWORD, csrf_of, sign_in


def test_a_chosen_time_zone_changes_how_times_are_shown(client, ctx):
    submit_request(ctx, "xiaowang", REQUEST)
    sign_in(client, "zhangzongjian")
    moment = r"\d+月\d+日 (\d\d):\d\d"  # 12月8日 20:15
    shown = re.search(moment, client.get("/inbox").get_data(as_text=True)).group(1)
    page = client.get("/settings").get_data(as_text=True)
    answer = client.post("/settings", data={"csrf_token": csrf_of(page), "locale": "zh_CN",
                                            "timezone": "Europe/London"})
    assert answer.status_code == 302
    london = re.search(moment, client.get("/inbox").get_data(as_text=True)).group(1)
    assert int(shown) - int(london) in (8, -16, 7, -17)  # Beijing is 8 (7 in summer) hours ahead
    bad = client.post("/settings", data={"csrf_token": csrf_of(page), "locale": "zh_CN", "timezone": "Mars/Base"})
    assert bad.status_code == 400 and "Mars/Base" in bad.get_data(as_text=True)


def test_tokens_are_made_shown_once_used_and_revoked_in_the_page(client, app):
    sign_in(client, "xiaowang")
    page = client.get("/settings").get_data(as_text=True)
    made = client.post("/settings/tokens", data={"csrf_token": csrf_of(page), "name": "周报脚本"})
    made = made.get_data(as_text=True)
    token = re.search(r"<code>(xz_[^<]+)</code>", made).group(1)
    api = app.test_client()
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).get_json()["id"] == "xiaowang"
    assert token not in client.get("/settings").get_data(as_text=True)  # shown once
    token_id = re.search(r'data-token="(\d+)"', made).group(1)
    other = app.test_client()
    sign_in(other, "songyu")
    assert other.post(f"/settings/tokens/{token_id}/revoke",
                      data={"csrf_token": csrf_of(other.get("/settings").get_data(as_text=True))}).status_code == 404
    client.post(f"/settings/tokens/{token_id}/revoke", data={"csrf_token": csrf_of(page)})
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_changed_password_ends_every_other_session(app, client, ctx):
    sign_in(client, "xiaowang")
    laptop = app.test_client()
    sign_in(laptop, "xiaowang")
    assert laptop.get("/inbox").status_code == 200
    page = client.get("/settings").get_data(as_text=True)
    assert 'data-form="password"' in page

    def change(current: str, new: str, confirm: str | None = None):
        return client.post("/settings/password", data={"csrf_token": csrf_of(page), "current": current, "new": new,
                                                         "confirm": new if confirm is None else confirm})

    wrong = change("not-my-password", "a-new-password")
    assert wrong.status_code == 400
    assert re.search(r'data-field="current">.*?当前密码不正确', wrong.get_data(as_text=True), re.S)
    short = change(PASSWORD, "short")
    assert short.status_code == 400 and re.search(r'data-field="new">.*?至少 8 个字符', short.get_data(as_text=True),
                                                  re.S)
    mismatch = change(PASSWORD, "a-new-password", "another-password")
    assert mismatch.status_code == 400 and "两次输入的新密码不一致" in mismatch.get_data(as_text=True)
    assert laptop.get("/inbox").status_code == 200  # nothing changed yet

    token = create_token(ctx, "xiaowang", "周报脚本")
    done = change(PASSWORD, "a-new-password")  # tokens kept (the box unticked)
    assert done.status_code == 302 and done.headers["Location"].endswith("/settings#password")
    assert app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get("/inbox").status_code == 200  # this session stays signed in
    assert laptop.get("/inbox").status_code == 302  # the other one has ended
    assert sign_in(app.test_client(), "xiaowang").status_code == 400  # the old password no longer works
    assert sign_in(app.test_client(), "xiaowang", "a-new-password").status_code == 302
    again = client.post("/settings/password", data={"csrf_token": csrf_of(page), "current": "a-new-password",
                                                    "new": "a-third-password", "confirm": "a-third-password",
                                                    "revoke_tokens": "1"})
    assert again.status_code == 302
    assert app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_password_reset_by_an_admin_ends_the_users_sessions_and_tokens(app, client, ctx):
    sign_in(client, "xiaowang")
    assert client.get("/inbox").status_code == 200
    token = create_token(ctx, "xiaowang", "脚本")
    assert app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    reset_password(ctx, "xiaowang", "reset-by-admin", "lijingli")
    assert client.get("/inbox").status_code == 302
    assert app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert sign_in(client, "xiaowang", "reset-by-admin").status_code == 302

    admin = app.test_client()  # an admin resetting their own password stays signed in
    sign_in(admin, "lijingli")
    page = admin.get("/admin/users/lijingli").get_data(as_text=True)
    done = admin.post("/admin/users/lijingli/password", data={"csrf_token": csrf_of(page), "password": "admin-new-1",
                                                               "confirm": "admin-new-1"})
    assert done.status_code == 302 and admin.get("/admin/users").status_code == 200


def test_a_rehash_of_the_same_password_keeps_the_sessions(app, client, ctx):
    """New argon2 parameters rehash a password when it is next used; that is no new password."""
    with ctx.db.write() as s:
        s.get(AppUser, "xiaowang").password_hash = PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    sign_in(client, "xiaowang")
    laptop = app.test_client()
    assert sign_in(laptop, "xiaowang").status_code == 302  # signing in rehashes it with today's parameters
    with ctx.db.read() as s:
        assert "t=1," not in s.get(AppUser, "xiaowang").password_hash
    assert client.get("/inbox").status_code == 200 and laptop.get("/inbox").status_code == 200
