"""The directory: every department's head and interface person for everyone signed in, searchable,
with who held each post from when to when."""

from __future__ import annotations

import re

from sqlalchemy import update

from engine.db.models import AppUser
from engine.org.directory import set_post
from tests.webui.conftest import sign_in


def _client(app, user: str):
    client = app.test_client()
    assert sign_in(client, user).status_code == 302
    return client


def _text(answer) -> str:
    return answer.get_data(as_text=True)


def test_everyone_finds_each_departments_head_and_interface_person(app, ctx):
    assert app.test_client().get("/directory").status_code == 302  # signed-in users only
    with ctx.db.write() as s:
        s.execute(update(AppUser).where(AppUser.id == "zhaojingli").values(email="zhao@example.com",
                                                                           phone="13900000001"))
    html = _text(_client(app, "linna").get("/directory"))
    assert len(re.findall(r'<tr data-dept="', html)) == 11
    prd = html[html.index('<tr data-dept="PRD"'):]
    prd = prd[:prd.index("</tr>")]
    assert 'data-post="head" data-user="chenzongjian"' in prd and "陈总监" in prd
    assert 'data-post="interface" data-user="zhaojingli"' in prd
    assert 'href="mailto:zhao@example.com"' in prd and "13900000001" in prd


def test_the_directory_is_searchable_and_shows_the_history_of_each_post(app, ctx, clock):
    clock.advance(days=2)
    set_post(ctx, "PRD", "interface", "qianyun", "lijingli")
    client = _client(app, "xiaowang")

    found = _text(client.get("/directory?q=产品"))
    assert re.findall(r'<tr data-dept="(\w+)"', found) == ["PRD"]
    assert re.findall(r'<tr data-dept="(\w+)"', _text(client.get("/directory?q=陈总监"))) == ["PRD"]
    assert re.findall(r'<tr data-dept="(\w+)"', _text(client.get("/directory?q=zhao"))) == []  # no longer holds it
    assert "没有符合条件的部门" in _text(client.get("/directory?q=不存在的部门"))

    history = found[found.index('data-history="PRD"'):]
    history = history[:history.index("</details>")]
    interface = re.findall(r'<li data-post="interface" data-user="(\w+)">([^<]*)</li>', history)
    assert [u for u, _ in interface] == ["qianyun", "zhaojingli"]  # newest first
    assert interface[0][1].endswith("至今") and not interface[1][1].endswith("至今")
    assert 'data-post="interface" data-user="qianyun"' in found[:found.index('data-history="PRD"')]
