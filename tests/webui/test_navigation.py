"""The navigation shows each area only to those who may enter it, and the area agrees."""

from __future__ import annotations

import re

import pytest

from tests.webui.conftest import sign_in

AREAS = {"admin": "/admin/", "audit": "/audit", "modeller": "/modeller"}
# who may enter which area (demo/org.yaml): 李经理 is platform admin and process owner, 沈洁 the
# auditor, 刘总监 a process owner only, 小王 none of them
MAY_ENTER = {"xiaowang": set(), "lijingli": {"admin", "audit", "modeller"}, "shenjie": {"admin", "audit"},
             "liuzongjian": {"modeller"}}


@pytest.mark.parametrize("user", sorted(MAY_ENTER))
def test_each_area_is_shown_to_and_opens_for_exactly_those_who_may_enter_it(app, user):
    client = app.test_client()
    assert sign_in(client, user).status_code == 302
    html = client.get("/inbox").get_data(as_text=True)
    shown = set(re.findall(r'data-nav="(\w+)"', html)) & AREAS.keys()
    assert shown == MAY_ENTER[user]
    for area, url in AREAS.items():
        status = client.get(url).status_code
        assert (status == 200) == (area in MAY_ENTER[user]), (area, status)
