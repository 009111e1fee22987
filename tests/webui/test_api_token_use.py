"""A personal token's last use is recorded at most once a minute: most API calls only read."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from engine.db.models import ApiToken
from tests.scenarios.steps import REQUESTER
from tests.webui.test_api import API, session_of, token_of


@pytest.fixture
def token_writes(ctx):
    """The UPDATEs of api_token the database is sent, counted as they go."""
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_rest):
        if statement.lstrip().upper().startswith("UPDATE API_TOKEN "):
            seen.append(statement)
    event.listen(ctx.db.engine, "before_cursor_execute", count)
    yield seen
    event.remove(ctx.db.engine, "before_cursor_execute", count)


def last_used(ctx):
    with ctx.db.read() as s:
        return s.scalar(select(ApiToken.last_used_at).where(ApiToken.user_id == REQUESTER))


def test_calls_within_a_minute_write_the_last_use_once(app, ctx, clock, token_writes):
    auth = token_of(app, REQUESTER)
    caller = app.test_client()
    assert last_used(ctx) is None

    assert caller.get(f"{API}/me", headers=auth).status_code == 200
    first = last_used(ctx)
    assert first is not None and len(token_writes) == 1

    clock.advance(seconds=59)
    assert caller.get(f"{API}/me", headers=auth).status_code == 200
    assert last_used(ctx) == first and len(token_writes) == 1  # read only: nothing written

    clock.advance(seconds=2)
    listed = caller.get(f"{API}/tokens", headers=auth).get_json()["items"]
    assert last_used(ctx) > first and len(token_writes) == 2
    assert listed[0]["last_used_at"] is not None


def test_a_revoked_token_signs_in_no_more_and_writes_nothing(app, ctx, token_writes):
    client, csrf = session_of(app, REQUESTER)
    made = client.post(f"{API}/tokens", json={"name": "脚本"}, headers=csrf).get_json()
    listed = client.get(f"{API}/tokens").get_json()["items"]
    assert client.delete(f"{API}/tokens/{listed[0]['id']}", headers=csrf).status_code == 204
    token_writes.clear()  # the revocation's own
    answer = app.test_client().get(f"{API}/me", headers={"Authorization": f"Bearer {made['token']}"})
    assert answer.status_code == 401 and token_writes == [] and last_used(ctx) is None
