"""Signing in and out: sessions kept on the server (ended by signing out, by idling, by age), failed
attempts that lock a name for a while, and every attempt on the account's own audit chain (who, when,
from where). The web layer keeps only a session's random token in its cookie."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from engine.context import Services
from engine.db import chain as audit
from engine.db.models import AccountChain, AppUser, AuditEvent, SignInThrottle, UserSession
from engine.db.tx import Tx
from engine.errors import AccountLocked, NotFound, SignInFailed
from engine.org.accounts import (
    ACCOUNT_WIDTH,
    Account,
    account,
    account_of,
    account_sql,
    password_matches,
    rehashed,
    stored_moment,
)
from engine.org.directory import require_admin

# A session's last_seen_at is written at most this often: not a write on every page.
TOUCH_EVERY = timedelta(minutes=1)
EVENTS = ("signed_in", "sign_in_failed", "account_locked", "account_unlocked", "signed_out", "password_set",
          "password_reset", "password_changed")


@dataclass(frozen=True)
class SignInPolicy:
    """How long sessions last and when failed attempts lock a name (the web app's configuration)."""

    lock_after: int = 10  # failed attempts under one name within lock_minutes lock it ...
    lock_minutes: int = 15  # ... for this long
    idle_minutes: int = 120  # a session not used for this long has ended
    max_hours: int = 12  # a session this old has ended, used or not


@dataclass(frozen=True)
class SignedIn:
    """A new session: the account and the token the browser keeps (only its hash is stored)."""

    account: Account
    token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign_in(ctx: Services, name: str, password: str, address: str | None, agent: str | None,
            policy: SignInPolicy) -> SignedIn:
    """Sign `name` in with `password` and start a session; SignInFailed (which part was wrong is not
    said) or AccountLocked (until when) otherwise. Every attempt is recorded on the account's chain
    (a name that is no account: on the chain they share) before the answer is given."""
    name, now = (name or "").strip()[:64], ctx.now()
    with ctx.db.read() as s:
        user = s.get(AppUser, name) if name else None
        user_id, stored = (user.id, user.password_hash) if user is not None else (None, None)
        active = user is not None and bool(user.active)
        throttle = s.get(SignInThrottle, name)
        locked = throttle.locked_until if throttle is not None and throttle.locked_until else None
    locked = locked if locked is not None and locked > now else None
    ok = locked is None and password_matches(stored if active else None, password)
    rehash = rehashed(stored, password) if ok else None
    token = secrets.token_urlsafe(32)
    where = {"address": (address or "")[:64] or None, "agent": (agent or "")[:255] or None}
    with ctx.db.transaction() as tx:
        head = audit.lock_account_chain(tx, user_id)  # attempts under one name run one after another
        row = tx.one("SELECT failures, since, locked_until FROM sign_in_throttle WHERE name = ?", (name,))
        until = Tx.when(row[2]) if row is not None else None
        locked = locked or (until if until is not None and until > now else None)
        if locked is not None:
            audit.append_account(tx, head, "sign_in_failed", name, now,
                                 {**where, "reason": "locked", "locked_until": locked.isoformat()})
            refused: Exception | None = AccountLocked(name, locked)
        elif ok:
            _start(tx, user_id, token, now, where, policy, rehash, stored)
            audit.append_account(tx, head, "signed_in", user_id, now, {**where, "session": _digest(token)[:12]})
            refused = None
        else:
            reason = "unknown" if user is None else "inactive" if not active else "password"
            refused = _failed(tx, head, name, row, now, policy, {**where, "reason": reason})
    if refused is not None:
        raise refused
    return SignedIn(account(ctx, user_id), token)


def _start(tx: Tx, user_id: str, token: str, now: datetime, where: dict, policy: SignInPolicy,
           rehash: str | None, stored: str | None) -> None:
    """The session row of a successful sign-in; the name's failures are forgotten, and the user's ended
    sessions are cleared away (their sign-ins and sign-outs stay on the audit chain)."""
    tx.run("DELETE FROM sign_in_throttle WHERE name = ?", (user_id,))
    tx.run("DELETE FROM user_session WHERE user_id = ? AND (ended_at IS NOT NULL OR last_seen_at < ? "
           "OR created_at < ?)", (user_id, tx.stamp(now - timedelta(minutes=policy.idle_minutes)),
                                  tx.stamp(now - timedelta(hours=policy.max_hours))))
    tx.run("INSERT INTO user_session (id, user_id, created_at, last_seen_at, address, agent) "
           "VALUES (?, ?, ?, ?, ?, ?)", (_digest(token), user_id, tx.stamp(now), tx.stamp(now), where["address"],
                                         where["agent"]))
    if rehash is not None:  # new argon2 parameters: the same password, hashed again
        tx.run("UPDATE app_user SET password_hash = ? WHERE id = ? AND password_hash = ?", (rehash, user_id, stored))


def _failed(tx: Tx, head, name: str, row, now: datetime, policy: SignInPolicy, data: dict) -> Exception:
    """Count a failed attempt under `name`; the lock it leads to, if it does."""
    window = timedelta(minutes=policy.lock_minutes)
    since = Tx.when(row[1]) if row is not None else None
    failures = row[0] + 1 if since is not None and now - since < window else 1
    since = since if failures > 1 else now
    until = now + window if failures >= policy.lock_after else None
    if row is None:
        tx.run("INSERT INTO sign_in_throttle (name, failures, since, locked_until) VALUES (?, ?, ?, ?)",
               (name, failures, tx.stamp(since), tx.stamp(until)))
    else:
        tx.run("UPDATE sign_in_throttle SET failures = ?, since = ?, locked_until = ? WHERE name = ?",
               (failures, tx.stamp(since), tx.stamp(until), name))
    # Rows that no longer count or lock anything go, so names tried once (typos, guesses) do not pile up.
    tx.run("DELETE FROM sign_in_throttle WHERE name <> ? AND since < ? AND (locked_until IS NULL OR locked_until < ?)",
           (name, tx.stamp(now - window), tx.stamp(now)))
    audit.append_account(tx, head, "sign_in_failed", name, now, {**data, "failures": failures})
    if until is None:
        return SignInFailed(name)
    audit.append_account(tx, head, "account_locked", "system", now, {
        "name": name, "failures": failures, "locked_until": until.isoformat(), "address": data["address"]})
    return AccountLocked(name, until)


def session_account(ctx: Services, user_id: str, token: str | None, policy: SignInPolicy) -> Account | None:
    """The account a session's token signed in, or None: signed out, idle for too long, too old, or the
    user switched off. An idle or too old session is ended here; a live one is marked as seen (once a
    minute at most)."""
    if not token or not user_id:
        return None
    digest, now = _digest(token), ctx.now()
    with ctx.db.transaction(write=False) as tx:  # one statement: the session with its user's account
        rows = tx.all(account_sql("user_session s JOIN app_user u ON u.id = s.user_id", "s.id = ?",
                                  "s.user_id, s.ended_at, s.last_seen_at, s.created_at"), (digest,))
    if not rows:
        return None
    owner, ended_at, last_seen, created = rows[0][ACCOUNT_WIDTH:]
    if owner != user_id or ended_at is not None:
        return None
    last_seen, created = stored_moment(last_seen), stored_moment(created)
    ended = ("idle" if now - last_seen > timedelta(minutes=policy.idle_minutes) else
             "expired" if now - created > timedelta(hours=policy.max_hours) else None)
    touch = ended is None and now - last_seen >= TOUCH_EVERY
    found = None if ended else account_of(rows)
    if ended or touch:
        with ctx.db.transaction() as tx:
            if ended:
                tx.run("UPDATE user_session SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL",
                       (tx.stamp(now), ended, digest))
            elif tx.run("UPDATE user_session SET last_seen_at = ? WHERE id = ? AND ended_at IS NULL",
                        (tx.stamp(now), digest)) != 1:
                return None  # signed out meanwhile
    return found


def sign_out(ctx: Services, token: str | None, address: str | None = None, agent: str | None = None) -> None:
    """End the session of `token` (a copy of its cookie opens nothing after this) and record it."""
    if not token:
        return
    digest, now = _digest(token), ctx.now()
    with ctx.db.transaction() as tx:
        found = tx.one("SELECT user_id FROM user_session WHERE id = ? AND ended_at IS NULL", (digest,))
        if found is None:
            return
        tx.run("UPDATE user_session SET ended_at = ?, end_reason = 'signed_out' WHERE id = ?", (tx.stamp(now), digest))
        head = audit.lock_account_chain(tx, found[0])
        audit.append_account(tx, head, "signed_out", found[0], now, {
            "address": (address or "")[:64] or None, "agent": (agent or "")[:255] or None, "session": digest[:12]})


def sign_in_state(ctx: Services, user_id: str, policy: SignInPolicy) -> dict:
    """What the admin page says of an account's signing in: {locked_until (None: not locked), failures
    (counting towards a lock now), must_change_password, has_password, sessions (live ones)}."""
    now = ctx.now()
    with ctx.db.read() as s:
        user = s.get(AppUser, user_id)
        if user is None:
            raise NotFound("user.unknown", user=user_id)
        row = s.get(SignInThrottle, user_id)
        sessions = s.scalar(select(func.count()).select_from(UserSession).where(
            UserSession.user_id == user_id, UserSession.ended_at.is_(None),
            UserSession.last_seen_at >= now - timedelta(minutes=policy.idle_minutes),
            UserSession.created_at >= now - timedelta(hours=policy.max_hours)))
        until = row.locked_until if row is not None and row.locked_until and row.locked_until > now else None
        counting = row is not None and until is None and now - row.since < timedelta(minutes=policy.lock_minutes)
        return {"locked_until": until, "failures": row.failures if counting else 0,
                "must_change_password": bool(user.must_change_password), "has_password": bool(user.password_hash),
                "sessions": sessions or 0}


def unlock(ctx: Services, user_id: str, by: str) -> bool:
    """A platform admin lifts the lock failed sign-ins put on `user_id` (and forgets those failures);
    recorded on the account's chain. False when the account was not locked."""
    now = ctx.now()
    with ctx.db.write() as s:
        require_admin(s, by)
        if s.get(AppUser, user_id) is None:
            raise NotFound("user.unknown", user=user_id)
        row = s.get(SignInThrottle, user_id)
        if row is None or row.locked_until is None or row.locked_until <= now:
            return False
        until = row.locked_until
        s.delete(row)
        tx = audit.session_tx(s)
        audit.append_account(tx, audit.lock_account_chain(tx, user_id), "account_unlocked", by, now,
                             {"locked_until": until.astimezone(UTC).isoformat()})
        tx.flush()
    return True


def account_events(ctx: Services, user_id: str | None = None, types: tuple[str, ...] = (), limit: int = 50,
                   offset: int = 0) -> tuple[list[dict], int]:
    """Events of the accounts' chains (sign-ins, failed attempts, locks, unlocks, sign-outs, passwords),
    newest first: one account's (user_id) or every account's, of `types` (all when empty), and how many
    there are. Each {user_id (None: a name that is no account), chain_id, seq, type, actor, at, data}."""
    q = select(AccountChain.user_id, AuditEvent.instance_id, AuditEvent.seq, AuditEvent.event_type,
               AuditEvent.actor, AuditEvent.at, AuditEvent.data).join(
        AccountChain, AccountChain.id == AuditEvent.instance_id)
    if user_id:
        q = q.where(AuditEvent.instance_id == audit.account_chain_id(user_id))
    if types:
        q = q.where(AuditEvent.event_type.in_(types))
    with ctx.db.read() as s:
        total = s.scalar(select(func.count()).select_from(q.subquery()))
        rows = s.execute(q.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit).offset(offset)).all()
    return [{"user_id": u, "chain_id": c, "seq": seq, "type": kind, "actor": actor, "at": at, "data": json.loads(data)}
            for u, c, seq, kind, actor, at, data in rows], total or 0
