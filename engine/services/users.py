"""Users and group membership (the organisation model builds on these rows)."""

from __future__ import annotations

from engine.bootstrap import Services
from engine.db.models import AppUser, GroupMembership
from engine.errors import InvalidInput


def add_user(ctx: Services, user_id: str, display_name: str, groups: list[str]) -> None:
    """Create the user if new, and add it to the groups it is not yet in."""
    if not user_id.strip():
        raise InvalidInput("user id must not be empty")
    with ctx.db.write() as s:
        if s.get(AppUser, user_id) is None:
            s.add(AppUser(id=user_id, display_name=display_name))
            s.flush()
        for group in groups:
            if s.get(GroupMembership, (user_id, group)) is None:
                s.add(GroupMembership(user_id=user_id, group_name=group))
