"""Settings: language and time zone (times follow the reader's zone), personal API tokens."""

from __future__ import annotations

import re

from engine.services.requests import submit_request
from tests.scenarios.steps import REQUEST
from tests.webui.conftest import csrf_of, sign_in


def test_a_chosen_time_zone_changes_how_times_are_shown(client, ctx):
    submit_request(ctx, "xiaowang", REQUEST)
    sign_in(client, "zhangzongjian")
    shown = re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", client.get("/inbox").get_data(as_text=True)).group(0)
    page = client.get("/settings").get_data(as_text=True)
    answer = client.post("/settings", data={"csrf_token": csrf_of(page), "locale": "zh_CN",
                                            "timezone": "Europe/London"})
    assert answer.status_code == 302
    london = re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", client.get("/inbox").get_data(as_text=True)).group(0)
    assert int(shown[11:13]) - int(london[11:13]) in (8, -16, 7, -17)  # Beijing is 8 (7 in summer) hours ahead
    bad = client.post("/settings", data={"csrf_token": csrf_of(page), "locale": "zh_CN", "timezone": "Mars/Base"})
    assert bad.status_code == 400 and "Mars/Base" in bad.get_data(as_text=True)


def test_tokens_are_made_shown_once_used_and_revoked_in_the_page(client, app):
    sign_in(client, "xiaowang")
    page = client.get("/settings").get_data(as_text=True)
    made = client.post("/settings/tokens", data={"csrf_token": csrf_of(page), "name": "周报脚本"})
    made = made.get_data(as_text=True)
    token = re.search(r"<code>(xz_[^<]+)</code>", made).group(1)
    api = app.test_client()
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).get_json()["id"] == "xiaowang"
    assert token not in client.get("/settings").get_data(as_text=True)  # shown once
    token_id = re.search(r'data-token="(\d+)"', made).group(1)
    other = app.test_client()
    sign_in(other, "songyu")
    assert other.post(f"/settings/tokens/{token_id}/revoke",
                      data={"csrf_token": csrf_of(other.get("/settings").get_data(as_text=True))}).status_code == 404
    client.post(f"/settings/tokens/{token_id}/revoke", data={"csrf_token": csrf_of(page)})
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
