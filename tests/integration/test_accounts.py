"""Accounts: argon2 passwords, preferences, personal API tokens."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.db.models import AppUser
from engine.errors import InvalidInput, PermissionDenied
from engine.org.accounts import (
    check_password,
    create_token,
    list_tokens,
    revoke_token,
    set_password,
    set_preferences,
    token_account,
)
from tests.helpers import add_user, said


@pytest.fixture
def people(ctx):
    add_user(ctx, "xiaowang", "staff")
    add_user(ctx, "lijingli", "platform_admins")
    return ctx


def test_passwords_are_hashed_and_checked(people):
    set_password(people, "xiaowang", "correct horse")
    with people.db.read() as s:
        stored = s.scalar(select(AppUser.password_hash).where(AppUser.id == "xiaowang"))
    assert stored.startswith("$argon2") and "correct horse" not in stored
    assert check_password(people, "xiaowang", "correct horse").id == "xiaowang"
    assert check_password(people, "xiaowang", "wrong horse") is None
    assert check_password(people, "nobody", "correct horse") is None
    assert check_password(people, "lijingli", "") is None  # no password set: cannot sign in
    with pytest.raises(InvalidInput) as refused:
        set_password(people, "xiaowang", "short")
    assert (said(refused), str(refused.value)) == (("password.too_short", {"least": 8}), "密码至少 8 个字符")


def test_preferences_are_checked(people):
    set_preferences(people, "xiaowang", locale="en", timezone="Europe/Berlin")
    set_password(people, "xiaowang", "correct horse")
    found = check_password(people, "xiaowang", "correct horse")
    assert (found.locale, found.timezone) == ("en", "Europe/Berlin")
    with pytest.raises(InvalidInput) as refused:
        set_preferences(people, "xiaowang", locale="fr")
    assert said(refused) == ("choice.unknown", {"what": {"code": "what.language", "params": {}}, "given": "fr",
                                                "known": ["zh_CN", "en"]})
    assert refused.value.text("en") == "Unknown language “fr” (known: zh_CN, en)"
    with pytest.raises(InvalidInput) as refused:
        set_preferences(people, "xiaowang", timezone="Mars/Olympus")
    assert said(refused) == ("zone.unknown", {"given": "Mars/Olympus"})


def test_api_tokens_are_shown_once_and_can_be_revoked(people):
    token = create_token(people, "lijingli", "报表脚本")
    assert token.startswith("xz_")
    found = token_account(people, token)
    assert found.id == "lijingli" and found.is_admin
    assert token_account(people, token + "x") is None
    (listed,) = list_tokens(people, "lijingli")
    assert listed["name"] == "报表脚本" and listed["last_used_at"] is not None and token not in str(listed)
    with pytest.raises(PermissionDenied):
        revoke_token(people, "xiaowang", listed["id"])
    revoke_token(people, "lijingli", listed["id"])
    assert token_account(people, token) is None
