"""Users and group membership (the organisation model builds on these rows)."""

from __future__ import annotations

from engine.context import Services
from engine.db.models import AppUser, GroupMembership
from engine.errors import InvalidInput, NotFound
from engine.messages import Msg
from engine.org.directory import bump_revision, require_admin


def add_user(ctx: Services, user_id: str, display_name: str, groups: list[str], by: str | None = None) -> None:
    """Create the user if new, and add it to the groups it is not yet in."""
    if not user_id.strip():
        raise InvalidInput("user.empty_id")
    with ctx.db.write() as s:
        if s.get(AppUser, user_id) is None:
            s.add(AppUser(id=user_id, display_name=display_name))
            s.flush()
        for group in groups:
            if s.get(GroupMembership, (user_id, group)) is None:
                s.add(GroupMembership(user_id=user_id, group_name=group))
        bump_revision(s, ctx.now(), by)


def set_active(ctx: Services, user_id: str, active: bool, by: str) -> bool:
    """Let a user sign in and receive tasks again (True) or not (False); platform admins only, never
    themselves. False when the user already was so."""
    if not isinstance(active, bool):
        raise InvalidInput("value.not_boolean", what=Msg("what.active"), given=repr(active))
    if user_id == by and not active:
        raise InvalidInput("user.deactivate_self", user=by)
    with ctx.db.write() as s:
        require_admin(s, by)
        user = s.get(AppUser, user_id)
        if user is None:
            raise NotFound("user.unknown", user=user_id)
        if user.active == active:
            return False
        user.active = active
        bump_revision(s, ctx.now(), by)  # the directory snapshot carries `active` (pickers offer active users only)
        return True
