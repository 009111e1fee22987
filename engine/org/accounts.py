"""Accounts: passwords (argon2), language and time-zone preferences, personal API tokens."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import or_, select, update

from engine.context import Services
from engine.db import chain as audit
from engine.db.models import ApiToken, AppUser
from engine.errors import FormInvalid, InvalidInput, NotFound, PermissionDenied
from engine.messages import Msg
from engine.org.directory import require_admin

_HASHER = PasswordHasher()
# Verifying against this keeps an unknown user as slow as a wrong password (no user enumeration).
_DUMMY = _HASHER.hash("not a password of anyone")
MIN_PASSWORD = 8
LOCALES = ("zh_CN", "en")
# How finely a token's last use is recorded: finer would cost a write on every API call.
TOKEN_USE_GRANULARITY = timedelta(minutes=1)


@dataclass(frozen=True)
class Account:
    """What the web layer needs to know of a signed-in user."""

    id: str
    name: str
    department_id: str | None
    department_name: str | None
    groups: frozenset[str]
    locale: str | None
    timezone: str | None
    stamp: str = ""  # of the password now (session_stamp): a session signed in with another one has ended
    must_change_password: bool = False  # the password was given by an admin: the user chooses their own first

    @property
    def is_admin(self) -> bool:
        return "platform_admins" in self.groups

    @property
    def is_auditor(self) -> bool:
        return "auditors" in self.groups

    @property
    def is_process_owner(self) -> bool:
        return "process_owners" in self.groups


def session_stamp(user: AppUser) -> str:
    """What a signed-in session remembers of the password it was signed in with: a new password (set
    by the user or reset by an admin) gives a new stamp, and every session holding the old one ends.
    A rehash of the same password (new argon2 parameters) keeps it."""
    return _stamp(user.password_hash, user.password_epoch)


def _stamp(password_hash: str | None, epoch: int | None) -> str:
    return str(epoch or 0) if password_hash else ""


def _new_password(s, user: AppUser, hashed: str, now, revoke_tokens: bool, must_change: bool, event: str,
                  by: str) -> None:
    """`user` gets the password `hashed`: every other session ends, and with `revoke_tokens` every
    personal API token of theirs stops working (a stolen session may have made one). With `must_change`
    (a password someone else gave) the user chooses their own at the next sign-in. `event` goes on the
    account's audit chain."""
    user.password_hash = hashed
    user.password_epoch = (user.password_epoch or 0) + 1
    user.must_change_password = must_change
    if revoke_tokens:
        for token in s.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))):
            token.revoked_at = now
    tx = audit.session_tx(s)
    audit.append_account(tx, audit.lock_account_chain(tx, user.id), event, by, now,
                         {"must_change": must_change, "tokens_revoked": revoke_tokens})
    tx.flush()


def account(ctx: Services, user_id: str) -> Account | None:
    """The active user `user_id`, or None."""
    with ctx.db.transaction(write=False) as tx:
        return account_of(tx.all(account_sql("app_user u", "u.id = ?"), (user_id,)))


# Every request reads its caller's account (by the session or the token): one statement on the
# command path's cursor (engine/db/tx.py), not four through the ORM.
_ACCOUNT_COLUMNS = ("u.id, u.display_name, u.department_id, u.active, u.locale, u.timezone, u.password_hash, "
                    "u.password_epoch, u.must_change_password, d.name, m.group_name")
ACCOUNT_WIDTH = 11  # the columns account_of reads; `extra` columns follow them


def account_sql(start: str, where: str, extra: str = "") -> str:
    """One statement for an account: `start` is app_user u, or a table joined to it (a session, a
    token) whose `extra` columns follow the account's; one row per group (one, with none, if in none)."""
    return (f"SELECT {_ACCOUNT_COLUMNS}{', ' + extra if extra else ''} FROM {start} "
            "LEFT JOIN department d ON d.id = u.department_id LEFT JOIN group_membership m ON m.user_id = u.id "
            f"WHERE {where}")


def account_of(rows: list[tuple]) -> Account | None:
    """The active user of account_sql's rows, or None."""
    if not rows or not rows[0][3]:
        return None
    user_id, name, dept, _active, locale, zone, hashed, epoch, must_change, dept_name = rows[0][:10]
    groups = frozenset(row[10] for row in rows if row[10] is not None)
    return Account(user_id, name, dept, dept_name, groups, locale, zone, _stamp(hashed, epoch), bool(must_change))


def stored_moment(value) -> datetime | None:
    """A timestamp as the DBAPI hands it back (SQLite: text of UTC), as an aware datetime."""
    if value is None:
        return None
    return _utc(datetime.fromisoformat(value) if isinstance(value, str) else value)


def set_password(ctx: Services, user_id: str, password: str, must_change: bool = True, by: str = "system") -> None:
    """Set a user's password (at least 8 characters), e.g. when accounts are set up. The user chooses
    their own at the first sign-in, unless `must_change` is False (a demo, a test)."""
    if len(password or "") < MIN_PASSWORD:
        raise InvalidInput("password.too_short", least=MIN_PASSWORD)
    hashed = _HASHER.hash(password)  # slow on purpose: outside the transaction
    with ctx.db.write() as s:
        user = s.get(AppUser, user_id)
        if user is None:
            raise NotFound("user.unknown", user=user_id)
        _new_password(s, user, hashed, ctx.now(), False, must_change, "password_set", by)


def users_without_password(ctx: Services) -> list[str]:
    """The users who have no password yet (they cannot sign in), by id."""
    with ctx.db.read() as s:
        return list(s.scalars(select(AppUser.id).where(AppUser.password_hash.is_(None)).order_by(AppUser.id)))


def reset_password(ctx: Services, user_id: str, password: str, by: str) -> None:
    """A platform admin sets a user's password (at least 8 characters), e.g. a forgotten one or a
    stolen account: the user's sessions end, their personal API tokens are revoked, and they choose a
    password of their own at the next sign-in (unless it is the admin's own)."""
    if len(password or "") < MIN_PASSWORD:
        raise InvalidInput("password.too_short", least=MIN_PASSWORD)
    hashed = _HASHER.hash(password)  # slow on purpose: outside the transaction
    with ctx.db.write() as s:
        require_admin(s, by)  # before anything about the user is said
        user = s.get(AppUser, user_id)
        if user is None:
            raise NotFound("user.unknown", user=user_id)
        # A password someone else gave is theirs to replace; an admin setting their own keeps it.
        _new_password(s, user, hashed, ctx.now(), True, user_id != by, "password_reset", by)


def change_password(ctx: Services, user_id: str, current: str, new: str, revoke_tokens: bool = False) -> Account:
    """A user sets their own password, giving the one they have now: FormInvalid naming the field
    that is wrong (current, new); the account with its new session stamp. Every other session of
    theirs ends; with `revoke_tokens` their personal API tokens too. A password an admin gave is
    replaced by one only the user knows."""
    errors = {}
    if len(new or "") < MIN_PASSWORD:
        errors["new"] = Msg("password.too_short", least=MIN_PASSWORD)
    elif len(new) > 256:
        errors["new"] = Msg("password.too_long", most=256)
    elif new == current:
        errors["new"] = Msg("password.unchanged")
    if check_password(ctx, user_id, current) is None:
        errors["current"] = Msg("password.wrong")
    if errors:
        raise FormInvalid(errors)
    hashed = _HASHER.hash(new)  # slow on purpose: outside the transaction
    with ctx.db.write() as s:
        user = s.get(AppUser, user_id)
        if user is None or not user.active:
            raise NotFound("user.unknown", user=user_id)
        _new_password(s, user, hashed, ctx.now(), revoke_tokens, False, "password_changed", user_id)
    return account(ctx, user_id)


def password_matches(stored: str | None, password: str) -> bool:
    """Whether `password` is the one hashed in `stored`; with no stored hash (an unknown or inactive
    user) a dummy is checked, so the answer takes as long as for a wrong password."""
    try:
        _HASHER.verify(stored or _DUMMY, password or "")
    except (VerificationError, InvalidHashError):
        return False
    return stored is not None


def rehashed(stored: str, password: str) -> str | None:
    """The right `password` hashed again when `stored` has older argon2 parameters, else None."""
    return _HASHER.hash(password) if _HASHER.check_needs_rehash(stored) else None


def check_password(ctx: Services, user_id: str, password: str) -> Account | None:
    """The account if the password is right (and the user active), else None, in constant effort."""
    with ctx.db.write() as s:
        user = s.get(AppUser, user_id or "")
        stored = user.password_hash if user is not None and user.active else None
        if not password_matches(stored, password):
            return None
        newer = rehashed(stored, password)
        if newer is not None:
            user.password_hash = newer
    return account(ctx, user_id)


def set_preferences(ctx: Services, user_id: str, *, locale: str | None = None, timezone: str | None = None) -> None:
    """Remember the user's language and time zone (None: keep)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if locale is not None and locale not in LOCALES:
        raise InvalidInput("choice.unknown", what=Msg("what.language"), given=locale, known=list(LOCALES))
    if timezone:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput("zone.unknown", given=timezone) from None
    with ctx.db.write() as s:
        user = s.get(AppUser, user_id)
        if user is None:
            raise NotFound("user.unknown", user=user_id)
        if locale is not None:
            user.locale = locale
        if timezone is not None:
            user.timezone = timezone or None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(ctx: Services, user_id: str, name: str) -> str:
    """A new personal API token for `user_id`; it is shown once, only its hash is kept."""
    if not name.strip():
        raise InvalidInput("token.no_name")
    token = "xz_" + secrets.token_urlsafe(32)
    with ctx.db.write() as s:
        if s.get(AppUser, user_id) is None:
            raise NotFound("user.unknown", user=user_id)
        s.add(ApiToken(user_id=user_id, token_hash=_digest(token), name=name.strip()[:255], created_at=ctx.now()))
    return token


def token_account(ctx: Services, token: str) -> Account | None:
    """The account a (not revoked) API token belongs to, or None; its use is recorded at most once a
    minute, so most API calls read and never write."""
    now = ctx.now()
    with ctx.db.transaction(write=False) as tx:  # one statement: the token with its user's account
        rows = tx.all(account_sql("api_token t JOIN app_user u ON u.id = t.user_id",
                                  "t.token_hash = ? AND t.revoked_at IS NULL", "t.id, t.last_used_at"),
                      (_digest(token or ""),))
    if not rows:
        return None
    found, (token_id, last_used) = account_of(rows), rows[0][ACCOUNT_WIDTH:]
    stale = last_used is None or now - stored_moment(last_used) >= TOKEN_USE_GRANULARITY
    if stale:
        # Conditional, so two calls racing past the read still write one time between them.
        cutoff = now - TOKEN_USE_GRANULARITY
        with ctx.db.write() as s:
            s.execute(update(ApiToken)
                      .where(ApiToken.id == token_id,
                             or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= cutoff))
                      .values(last_used_at=now))
    return found


def _utc(moment: datetime) -> datetime:
    # SQLite hands back the stored UTC time without its zone.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def list_tokens(ctx: Services, user_id: str) -> list[dict]:
    with ctx.db.read() as s:
        rows = s.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id))
        return [{"id": r.id, "name": r.name, "created_at": r.created_at.isoformat(),
                 "last_used_at": r.last_used_at.isoformat() if r.last_used_at else None,
                 "revoked": r.revoked_at is not None} for r in rows]


def revoke_token(ctx: Services, user_id: str, token_id: int) -> None:
    with ctx.db.write() as s:
        row = s.get(ApiToken, token_id)
        if row is None or row.user_id != user_id:
            raise PermissionDenied("token.not_yours", id=token_id)
        row.revoked_at = row.revoked_at or ctx.now()
