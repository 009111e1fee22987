"""Signing in as the engine does it: sessions kept in the database, locks after failed attempts that hold
across processes, and every attempt on the account's own audit chain, verified and anchored with the
others."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from engine.audit import anchors as audit_anchors
from engine.audit import verify as audit_verify
from engine.bootstrap import bootstrap
from engine.config import EngineConfig
from engine.db import chain as audit
from engine.db.models import UserSession
from engine.errors import AccountLocked, PermissionDenied, SignInFailed
from engine.org.accounts import set_password
from engine.org.sign_in import (
    SignInPolicy,
    _digest,
    account_events,
    session_account,
    sign_in,
    sign_in_state,
    sign_out,
    unlock,
)
from tests.helpers import add_user

POLICY = SignInPolicy(lock_after=3, lock_minutes=15, idle_minutes=30, max_hours=8)


@pytest.fixture
def people(ctx):
    add_user(ctx, "xiaowang", "staff")
    add_user(ctx, "lijingli", "platform_admins")
    set_password(ctx, "xiaowang", "correct horse", must_change=False)
    return ctx


def _in(ctx, name: str = "xiaowang", password: str = "correct horse"):
    return sign_in(ctx, name, password, "10.0.0.7", "Firefox", POLICY)


def test_every_attempt_is_on_the_accounts_chain_verified_and_anchored_with_the_others(people):
    done = _in(people)
    with pytest.raises(SignInFailed):
        _in(people, password="wrong horse")
    with pytest.raises(SignInFailed):
        _in(people, "nobody")
    sign_out(people, done.token, "10.0.0.8", "Firefox")
    events, total = account_events(people)
    assert total == 5 and [(e["type"], e["user_id"], e["actor"]) for e in events] == [
        ("signed_out", "xiaowang", "xiaowang"), ("sign_in_failed", None, "nobody"),
        ("sign_in_failed", "xiaowang", "xiaowang"), ("signed_in", "xiaowang", "xiaowang"),
        ("password_set", "xiaowang", "system")]
    assert events[1]["data"] == {"address": "10.0.0.7", "agent": "Firefox", "reason": "unknown", "failures": 1}
    report = audit_verify.verify(people)
    assert report["problems"] == [] and report["accounts"] == 2
    anchor = audit_anchors.make_anchor(people)
    assert anchor["chains"] == 2
    chain = audit.account_chain_id("xiaowang")
    with people.db.write() as s:  # someone hides where a sign-in came from
        s.execute(text("UPDATE audit_event SET data = replace(data, '10.0.0.7', '10.0.0.1') "
                       "WHERE instance_id = :c AND event_type = 'signed_in'"), {"c": chain})
    (problem,) = audit_verify.verify(people)["problems"]
    assert (problem["instance_id"], problem["kind"], problem["seq"]) == (chain, "edited", 2)
    step = audit_verify.verify_next(people, people.now() + timedelta(seconds=1))
    assert step["failed"] == [chain]


def test_a_lock_holds_in_every_process_until_it_ends_or_an_admin_lifts_it(people, clock, db_url):
    other = bootstrap(EngineConfig(database_url=db_url, clock=clock))  # another web process
    try:
        for _ in range(2):
            with pytest.raises(SignInFailed):
                _in(people, password="wrong horse")
        with pytest.raises(AccountLocked) as locked:
            sign_in(other, "xiaowang", "wrong horse", "10.0.0.9", None, POLICY)
        assert locked.value.until == clock.now + timedelta(minutes=15)
        with pytest.raises(AccountLocked):
            _in(people)  # the right password too
        assert sign_in_state(people, "xiaowang", POLICY)["locked_until"] == locked.value.until
        with pytest.raises(PermissionDenied):
            unlock(people, "xiaowang", "xiaowang")
        assert unlock(other, "xiaowang", "lijingli") is True
        assert unlock(other, "xiaowang", "lijingli") is False
        assert _in(people).account.id == "xiaowang"
        for _ in range(3):  # the failures before the unlock are forgotten: three more lock it again
            with pytest.raises(SignInFailed if _ < 2 else AccountLocked):
                _in(people, password="wrong horse")
        clock.advance(minutes=15)
        assert _in(other).account.id == "xiaowang"  # the lock is over
    finally:
        other.db.dispose()


def test_failures_far_apart_do_not_add_up(people, clock):
    for _ in range(5):
        with pytest.raises(SignInFailed):
            _in(people, password="wrong horse")
        clock.advance(minutes=8)  # two in a window of 15 minutes at most
    assert sign_in_state(people, "xiaowang", POLICY)["failures"] == 1
    with pytest.raises(SignInFailed):
        _in(people, "nobody", "guess")
    with people.db.read() as s:  # what no longer counts is cleared away by the next failure
        assert s.scalar(text("SELECT count(*) FROM sign_in_throttle")) == 2
    clock.advance(minutes=16)
    with pytest.raises(SignInFailed):
        _in(people, "somebody", "guess")
    with people.db.read() as s:
        assert s.execute(text("SELECT name FROM sign_in_throttle")).scalars().all() == ["somebody"]


def test_a_session_ends_at_sign_out_when_idle_and_when_too_old(people, clock):
    first = _in(people)
    assert session_account(people, "xiaowang", first.token, POLICY).id == "xiaowang"
    assert session_account(people, "lijingli", first.token, POLICY) is None  # another user's id
    sign_out(people, first.token)
    assert session_account(people, "xiaowang", first.token, POLICY) is None
    second = _in(people)
    clock.advance(minutes=31)
    assert session_account(people, "xiaowang", second.token, POLICY) is None
    third = _in(people)
    seen = clock.now
    clock.advance(seconds=30)
    session_account(people, "xiaowang", third.token, POLICY)
    assert _row(people, third.token).last_seen_at == seen  # not written on every request
    clock.advance(seconds=31)
    session_account(people, "xiaowang", third.token, POLICY)
    assert _row(people, third.token).last_seen_at == clock.now
    for _ in range(16):  # used every half hour: never idle, but 8 hours at most
        clock.advance(minutes=29)
        assert session_account(people, "xiaowang", third.token, POLICY) is not None
    clock.advance(minutes=29)
    assert session_account(people, "xiaowang", third.token, POLICY) is None
    assert _row(people, third.token).end_reason == "expired"
    _in(people)  # a new sign-in clears the ended sessions away
    with people.db.read() as s:
        assert s.query(UserSession).count() == 1


def _row(ctx, token: str) -> UserSession:
    with ctx.db.read() as s:
        found = s.get(UserSession, _digest(token))
        s.expunge(found)
        return found
