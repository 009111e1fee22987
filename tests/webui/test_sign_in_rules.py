"""The rules around signing in: a password an admin gave is replaced by the user's own before anything
else; an admin lifts a lock from the user's page; every sign-in, failure, lock and unlock is an audit
event on the account's own chain, listed for auditors (who, when, from where).

The demo organisation is loaded (lijingli is a platform admin, shenjie the auditor); the clock reads
2026-09-30 09:00 UTC (17:00 in Beijing).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from engine.audit import verify as audit_verify
from engine.bootstrap import bootstrap
from engine.config import EngineConfig
from engine.db.models import AppUser
from engine.org.accounts import reset_password, set_password
from engine.org.sign_in import account_events
from tests.webui.conftest import PASSWORD, csrf_of, sign_in

ROOT = Path(__file__).parents[2]


def _text(answer) -> str:
    return answer.get_data(as_text=True)


def _signed_in(app, user: str, password: str = PASSWORD):
    client = app.test_client()
    assert sign_in(client, user, password).status_code == 302
    return client


def test_a_password_an_admin_gave_is_replaced_before_anything_else(app, ctx):
    reset_password(ctx, "songyu", "admin-gave-this-1", "lijingli")
    own = "宋雨自己选的新密码"
    client = app.test_client()
    answer = sign_in(client, "songyu", "admin-gave-this-1")
    assert answer.status_code == 302
    for path in ("/inbox", "/requests?q=618", "/settings", "/admin/"):
        page = client.get(path)
        assert page.status_code == 302 and page.headers["Location"].startswith("/password"), path
    assert client.get("/requests?q=618").headers["Location"] == "/password?next=/requests?q%3D618"
    api = client.get("/api/v1/me")
    assert api.status_code == 403 and api.get_json()["code"] == "password_change_required"
    page = _text(client.get("/password?next=/requests"))
    assert "设置自己的密码" in page and 'data-nav="inbox"' not in page  # nothing else is offered
    token = csrf_of(page)
    same = client.post("/password?next=/requests", data={"csrf_token": token, "current": "admin-gave-this-1",
                                                          "new": "admin-gave-this-1", "confirm": "admin-gave-this-1"})
    assert same.status_code == 400 and "不能与当前密码相同" in _text(same)
    wrong = client.post("/password?next=/requests", data={"csrf_token": token, "current": "not-it-at-all",
                                                           "new": own, "confirm": own})
    assert wrong.status_code == 400 and "当前密码不正确" in _text(wrong)
    done = client.post("/password?next=/requests", data={"csrf_token": token, "current": "admin-gave-this-1",
                                                          "new": own, "confirm": own})
    assert done.status_code == 302 and done.headers["Location"] == "/requests"
    assert client.get("/inbox").status_code == 200  # this session goes on
    assert client.get("/password").headers["Location"] == "/inbox"  # nothing left to choose
    assert sign_in(app.test_client(), "songyu", own).status_code == 302
    types = [e["type"] for e in account_events(ctx, "songyu")[0]]
    assert types == ["signed_in", "password_changed", "signed_in", "password_reset"]


def test_a_password_set_at_set_up_is_replaced_too_unless_switched_off(app, ctx):
    set_password(ctx, "songyu", "set-up-password", must_change=True)
    client = _signed_in(app, "songyu", "set-up-password")
    assert client.get("/inbox").headers["Location"].startswith("/password")
    set_password(ctx, "songyu", "demo-password", must_change=False)  # as the demo and the tests do
    assert _signed_in(app, "songyu", "demo-password").get("/inbox").status_code == 200
    with ctx.db.read() as s:  # the demo users (one hash copied to all) sign in as they are
        assert not any(s.scalars(select(AppUser.must_change_password)))


def test_set_password_makes_users_choose_their_own_unless_told_otherwise(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    cli = [sys.executable, "-c", "from webui.cli import main; main()", "--database-url", url]
    subprocess.run([*cli, "init-db"], check=True, capture_output=True, cwd=ROOT)
    for name in ("alice", "bob"):
        subprocess.run([*cli, "users", "add", name, "--name", name], check=True, capture_output=True, cwd=ROOT)
    subprocess.run([*cli, "set-password", "alice", "--password", "alice-password"], check=True, cwd=ROOT,
                   capture_output=True)
    subprocess.run([*cli, "set-password", "bob", "--no-must-change", "--password", "bob-password"], check=True,
                   cwd=ROOT, capture_output=True)
    other = bootstrap(EngineConfig(database_url=url))
    try:
        with other.db.read() as s:
            chosen = dict(s.execute(select(AppUser.id, AppUser.must_change_password)).all())
        assert chosen == {"alice": True, "bob": False}
    finally:
        other.db.dispose()


def test_an_admin_unlocks_a_locked_account_and_the_lock_and_unlock_are_on_its_chain(app, ctx):
    for _ in range(10):
        sign_in(app.test_client(), "songyu", "wrong-password")
    assert sign_in(app.test_client(), "songyu").status_code == 429
    auditor = _signed_in(app, "shenjie")
    page = _text(auditor.get("/admin/users/songyu"))
    assert 'data-locked="yes"' in page and "已锁定至 9月30日 17:15" in page
    assert 'data-form="unlock"' not in page  # auditors read, they do not unlock
    token = csrf_of(page)
    assert auditor.post("/admin/users/songyu/unlock", data={"csrf_token": token}).status_code == 403
    admin = _signed_in(app, "lijingli")
    page = _text(admin.get("/admin/users/songyu"))
    assert 'data-form="unlock"' in page
    done = admin.post("/admin/users/songyu/unlock", data={"csrf_token": csrf_of(page)})
    assert done.status_code == 302 and done.headers["Location"] == "/admin/users/songyu#sign-in"
    page = _text(admin.get("/admin/users/songyu"))
    assert "已解除锁定，此人现在可以登录。" in page and 'data-locked="no"' in page
    again = admin.post("/admin/users/songyu/unlock", data={"csrf_token": csrf_of(page)})
    assert "该账号没有被锁定。" in _text(admin.get(again.headers["Location"]))
    assert admin.post("/admin/users/nobody/unlock", data={"csrf_token": csrf_of(page)}).status_code == 404
    assert sign_in(app.test_client(), "songyu").status_code == 302
    events = account_events(ctx, "songyu")[0]
    assert [e["type"] for e in events[:4]] == ["signed_in", "account_unlocked", "sign_in_failed", "account_locked"]
    unlocked = events[1]
    assert unlocked["actor"] == "lijingli" and unlocked["data"]["locked_until"].startswith("2026-09-30T09:15")
    assert events[2]["data"] == {"address": "127.0.0.1", "agent": events[2]["data"]["agent"], "reason": "locked",
                                 "locked_until": "2026-09-30T09:15:00+00:00"}
    assert audit_verify.verify(ctx)["problems"] == []


def test_sign_ins_and_failures_are_listed_for_auditors_with_who_when_and_where(app, ctx, clock):
    sign_in(app.test_client(), "zhangzongjian", "wrong-password")
    sign_in(app.test_client(), "no-such-person", "wrong-password")
    clock.advance(minutes=1)
    client = _signed_in(app, "zhangzongjian")
    client.post("/logout", data={"csrf_token": csrf_of(_text(client.get("/inbox")))})
    auditor = _signed_in(app, "shenjie")
    page = _text(auditor.get("/audit/sign-ins"))
    rows = re.findall(r'<tr data-event="([^"]+)" data-account="([^"]*)"', page)
    assert rows[:5] == [("signed_in", "shenjie"), ("signed_out", "zhangzongjian"), ("signed_in", "zhangzongjian"),
                        ("sign_in_failed", ""), ("sign_in_failed", "zhangzongjian")]
    assert "no-such-person" in page and "（无此账号）" in page and "127.0.0.1" in page and "9月30日 17:01" in page
    failures = _text(auditor.get("/audit/sign-ins?only=failures"))
    assert set(re.findall(r'<tr data-event="([^"]+)"', failures)) == {"sign_in_failed"}
    assert re.findall(r'data-reason="([^"]+)"', failures) == ["unknown", "password"]
    one = _text(auditor.get("/audit/sign-ins?user=zhangzongjian"))
    assert re.findall(r'<tr data-event="([^"]+)"', one) == ["signed_out", "signed_in", "sign_in_failed"]
    admin_page = _text(_signed_in(app, "lijingli").get("/admin/users/zhangzongjian"))
    assert re.findall(r'<tr data-event="([^"]+)"', admin_page) == ["signed_out", "signed_in", "sign_in_failed"]
    assert _signed_in(app, "xiaowang").get("/audit/sign-ins").status_code == 404  # auditors and admins only
