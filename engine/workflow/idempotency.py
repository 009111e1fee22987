"""Idempotency keys of the API's commands: a retried command answers what the first run did.

A caller whose connection dropped after the commit cannot tell, from `409 task_not_ready` on its
retry, its own completion from someone else's. With an Idempotency-Key it sends the same request
again and gets the first answer. A key belongs to its caller; it names one request (method, path,
body): sent with another, it is refused (IdempotencyKeyReused).

Three small units of work around the command's own:
1. `claim` takes the key (state "running") or finds it: answered (a replay), running (the retry is
   refused with IdempotencyInProgress, unless that run is older than RUNNING_LEASE: a run that died
   before its command committed, which the retry takes over), or reused with another request.
2. The command runs inside `claim.watching()`: its write transaction also moves the key to
   "committed", in the same commit, so a command never commits without its key saying so. A run
   whose key was taken over meanwhile finds its attempt gone and is rolled back.
3. `answer` stores the status and body the caller got ("answered"); `release` frees the key of a
   command that was refused before it changed anything, so the retry runs it afresh.
Only the gap between 2 and 3 remains: a server stopped right after the command's commit leaves the
key "committed" without its answer, and a retry is told so (IdempotencyAnswerLost) instead of
running the command again. Keys are kept `config.idempotency_hours` (24 h); `forget_expired`, a
periodic job of engine.background, deletes older ones, and an expired key may name a new command.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from engine.context import Services
from engine.db.database import watching_commits
from engine.db.tx import Tx
from engine.errors import IdempotencyAnswerLost, IdempotencyInProgress, IdempotencyKeyReused

RUNNING_LEASE = timedelta(minutes=1)  # far beyond any command; a run this old died before committing

_SELECT = ("SELECT method, path, body_hash, state, attempt, status, answer, location, created_at, started_at "
           "FROM idempotent_command WHERE user_id = ? AND key = ?")
_INSERT = ("INSERT INTO idempotent_command (user_id, key, method, path, body_hash, state, attempt, created_at, "
           "started_at) VALUES (?, ?, ?, ?, ?, 'running', 1, ?, ?)")


@dataclass(frozen=True)
class Answer:
    """What a command answered: replayed as it was."""

    status: int
    body: str
    location: str | None = None


@dataclass
class Claim:
    """A key taken for one run of its command (or, with `replay`, the answer of an earlier run)."""

    ctx: Services
    user: str
    key: str
    attempt: int = 0
    replay: Answer | None = None
    committed: bool = False  # the command's transaction committed, with the key marked in it

    def before_commit(self, tx: Tx) -> None:
        if self.committed:
            return  # a command's later transactions: the key is marked already
        marked = tx.run("UPDATE idempotent_command SET state = 'committed' WHERE user_id = ? AND key = ? "
                        "AND attempt = ? AND state = 'running'", (self.user, self.key, self.attempt))
        if marked != 1:  # a retry took the key over from this run: this run must not commit
            raise IdempotencyInProgress("idempotency.in_progress")

    def after_commit(self) -> None:
        self.committed = True

    @contextmanager
    def watching(self) -> Iterator[None]:
        """Run the command inside: its commit marks the key in the same transaction."""
        with watching_commits(self):
            yield


def _retention(ctx: Services) -> timedelta:
    return timedelta(hours=ctx.config.idempotency_hours)


def claim(ctx: Services, user: str, key: str, method: str, path: str, body_hash: str) -> Claim:
    """Take `key` of `user` for this request, or find the answer of its earlier run (see the module)."""
    now = ctx.now()
    with ctx.db.transaction() as tx:
        found = tx.one(_SELECT + (" FOR UPDATE" if tx.postgres else ""), (user, key))
        if found is not None and Tx.when(found[8]) <= now - _retention(ctx):
            tx.run("DELETE FROM idempotent_command WHERE user_id = ? AND key = ?", (user, key))
            found = None  # expired (the cleanup has not come by yet): a new command
        if found is None:
            if tx.postgres:  # a concurrent first run of the same key inserts too: one of them wins
                sql = _INSERT + " ON CONFLICT (user_id, key) DO NOTHING"
                if tx.run(sql, (user, key, method, path, body_hash, tx.stamp(now), tx.stamp(now))) != 1:
                    raise IdempotencyInProgress("idempotency.in_progress")
            else:  # SQLite: this transaction holds the write lock, nobody inserts meanwhile
                tx.run(_INSERT, (user, key, method, path, body_hash, tx.stamp(now), tx.stamp(now)))
            return Claim(ctx, user, key, attempt=1)
        return _existing(ctx, tx, user, key, (method, path, body_hash), found, now)


def _existing(ctx: Services, tx: Tx, user: str, key: str, asked: tuple, found: tuple, now: datetime) -> Claim:
    if tuple(found[:3]) != asked:
        raise IdempotencyKeyReused("idempotency.reused")
    state, attempt = found[3], found[4]
    if state == "answered":
        return Claim(ctx, user, key, attempt, replay=Answer(found[5], found[6], found[7]))
    if state == "committed":
        raise IdempotencyAnswerLost("idempotency.answer_lost")
    if Tx.when(found[9]) > now - RUNNING_LEASE:
        raise IdempotencyInProgress("idempotency.in_progress")
    tx.run("UPDATE idempotent_command SET attempt = ?, started_at = ? WHERE user_id = ? AND key = ?",
           (attempt + 1, tx.stamp(now), user, key))
    return Claim(ctx, user, key, attempt + 1)


def answer(taken: Claim, reply: Answer) -> None:
    """Keep what the command answered, for the retries."""
    with taken.ctx.db.transaction() as tx:
        tx.run("UPDATE idempotent_command SET state = 'answered', status = ?, answer = ?, location = ? "
               "WHERE user_id = ? AND key = ? AND attempt = ?",
               (reply.status, reply.body, reply.location, taken.user, taken.key, taken.attempt))


def release(taken: Claim) -> None:
    """Free the key of a command refused before it changed anything: the retry runs it afresh."""
    with taken.ctx.db.transaction() as tx:
        tx.run("DELETE FROM idempotent_command WHERE user_id = ? AND key = ? AND attempt = ? AND state = 'running'",
               (taken.user, taken.key, taken.attempt))


def forget_expired(ctx: Services) -> int:
    """Delete the keys older than the retention period (a periodic job); how many were deleted."""
    with ctx.db.transaction() as tx:
        return tx.run("DELETE FROM idempotent_command WHERE created_at < ?", (tx.stamp(ctx.now() - _retention(ctx)),))
