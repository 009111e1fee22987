"""One reading of the organisation per command or web request.

Outside a scope, `org.directory` checks the organisation's revision on every call (one round trip
each). Inside `org_snapshot(ctx)` the first call's snapshot serves the rest of the scope: a command
acts on one consistent organisation, as if it had run a moment earlier. A change of the organisation
in the scope (bump_revision) ends the snapshot for the rest of it, so the changer sees its own change.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from engine.context import Services


@dataclass
class Scope:
    """The snapshot held for one command or request of one database (None until first asked)."""

    db: Any
    directory: Any = None
    open: bool = True  # False once the organisation changed in the scope: read afresh from then on


_SCOPE: ContextVar[Scope | None] = ContextVar("org_scope", default=None)


@contextmanager
def org_snapshot(ctx: Services) -> Iterator[None]:
    """Read the organisation at most once in the block (a nested block shares the outer snapshot)."""
    outer = _SCOPE.get()
    if outer is not None and outer.db is ctx.db:
        yield
        return
    token = _SCOPE.set(Scope(ctx.db))
    try:
        yield
    finally:
        _SCOPE.reset(token)


def enter(ctx: Services) -> object:
    """Open a scope without a block (a web request's hooks); `leave` with what this returned."""
    return _SCOPE.set(Scope(ctx.db))


def leave(token: object) -> None:
    """Close the scope `enter` opened."""
    _SCOPE.reset(token)  # type: ignore[arg-type]


def current(db) -> Scope | None:
    """The open scope of `db`, if the caller is in one."""
    scope = _SCOPE.get()
    return scope if scope is not None and scope.open and scope.db is db else None


def changed() -> None:
    """The organisation changed in this scope: its snapshot is stale from now on."""
    scope = _SCOPE.get()
    if scope is not None:
        scope.open = False
        scope.directory = None
