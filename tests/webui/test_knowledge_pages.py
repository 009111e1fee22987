"""The knowledge pages: lessons searched and browsed, each linked to its request (whose page keeps its own
rule); the collaboration guide edited by admins with its history; the 协作之星 board and its notes.

Requests are carried through the real flow by the scenario driver (tests/integration/
test_knowledge_pages_data.close_request); the demo organisation is loaded.
"""

from __future__ import annotations

import re

import pytest

from engine.knowledge import guide
from engine.knowledge.lessons import propose_lesson, review_lesson
from tests.integration.test_knowledge_pages_data import close_request
from tests.scenarios.driver import MONDAY, Flow
from tests.webui.conftest import csrf_of, sign_in

ADMIN = "lijingli"


@pytest.fixture
def closed(app, ctx, clock):
    """One request closed in November 2026, rated 5, 产品部 named in its highlights; its lesson approved."""
    clock.now = MONDAY
    return close_request(Flow(ctx, clock), score=5, highlights="产品部提前交付功能说明", named=["SAL"],
                         lesson=("大促协作：数据需求提前提出", "客户数据涉及保密审核，需预留时间", "大促,数据"))


def _client(app, user: str):
    client = app.test_client()
    assert sign_in(client, user).status_code == 302
    return client


def _text(answer) -> str:
    return answer.get_data(as_text=True)


def _post(client, url: str, data: dict, token_from: str = "/knowledge"):
    token = csrf_of(_text(client.get(token_from)))
    return client.post(url, data={**data, "csrf_token": token})


# --- lessons ------------------------------------------------------------------------------------

def test_a_chinese_word_finds_the_lesson_linked_to_its_request(app, ctx, closed):
    assert app.test_client().get("/knowledge").status_code == 302  # signed-in users only
    client = _client(app, "linna")  # 人力资源部: not one of the request's people
    html = _text(client.get("/knowledge?q=保密审核"))
    assert f'data-entry="{closed["lesson_id"]}"' in html and 'data-match="all"' in html
    link = f'href="/requests/{closed["instance_id"]}" data-request="{closed["request_no"]}"'
    assert link in html
    # only a link: the request's page applies its own rule
    assert client.get(f"/requests/{closed['instance_id']}").status_code == 404
    assert _client(app, "xiaowang").get(f"/requests/{closed['instance_id']}").status_code == 200

    assert 'data-total="0"' in _text(client.get("/knowledge?q=不存在的词汇组合"))
    assert 'data-match="none"' in _text(client.get("/knowledge?q=？？"))
    too_long = client.get("/knowledge?q=" + "字" * 201)
    assert too_long.status_code == 400 and "搜索内容最多 200 个字" in _text(too_long)

    entry = _text(client.get(f"/knowledge/entries/{closed['lesson_id']}"))
    assert "客户数据涉及保密审核" in entry and closed["request_no"] in entry


def test_lessons_are_browsed_by_type_and_department_with_counts_and_pages(app, ctx, closed):
    for n in range(11):
        entry = propose_lesson(ctx, title=f"会议纪要经验{n}", body="协调会纪要应在会议当天发出", user="xiaowang")
        review_lesson(ctx, entry, ADMIN, True)
    waiting = propose_lesson(ctx, title="待审核经验", body="协调会纪要待审核", user="xiaowang")
    client = _client(app, "xiaowang")

    html = _text(client.get("/knowledge"))
    assert 'data-total="12"' in html
    facet = re.search(r'data-facet="type">(.*?)</ul>', html, re.S).group(1)
    assert re.search(r'data-value="项目协作">项目协作 <span class="count">1</span>', facet)
    depts = re.search(r'data-facet="dept">(.*?)</ul>', html, re.S).group(1)
    assert re.findall(r'data-value="(\w+)">', depts) == ["MKT", "PRD", "SAL"]
    assert html.count("data-entry=") == 10 and 'rel="next"' in html
    second = _text(client.get("/knowledge?page=2"))
    assert second.count("data-entry=") == 2 and f'data-entry="{closed["lesson_id"]}"' in second

    typed = _text(client.get("/knowledge?type=项目协作"))
    assert 'data-total="1"' in typed and f'data-entry="{closed["lesson_id"]}"' in typed
    assert 'data-total="0"' in _text(client.get("/knowledge?type=项目协作&dept=TEC"))
    assert 'data-total="1"' in _text(client.get("/knowledge?dept=PRD"))
    assert 'data-total="11"' in _text(client.get("/knowledge?q=会议纪要"))
    assert client.get("/knowledge?dept=" + "X" * 40).status_code == 400
    assert client.get(f"/knowledge/entries/{waiting}").status_code == 404  # not approved: not there
    assert client.get("/knowledge/entries/99999").status_code == 404


# --- the collaboration guide -------------------------------------------------------------------

def test_admins_write_the_guide_and_everyone_reads_it_with_its_history(app, ctx, closed, clock):
    admin = _client(app, ADMIN)
    staff = _client(app, "xiaowang")
    assert staff.get("/knowledge/guide/new").status_code == 403
    assert _post(staff, "/knowledge/guide/new", {"title": "x", "body": "y"}).status_code == 403

    refused = _post(admin, "/knowledge/guide/new", {"title": "", "body": "见 [[kb:99999]]"})
    assert refused.status_code == 422
    assert "请填写标题" in _text(refused) and "[[kb:99999]] 不存在或尚未通过审核" in _text(refused)
    assert guide.list_pages(ctx) == []

    body = (f"# 协作原则\n对事不对人。参见 [[kb:{closed['lesson_id']}]]。\n\n<script>alert(1)</script>\n\n"
            f"[点我](javascript:alert(1))\n\n引用写作 `[[kb:{closed['lesson_id']}]]`：\n\n"
            f"    [[kb:{closed['lesson_id']}]]\n\n[外链 [[kb:{closed['lesson_id']}]]](https://example.com)\n")
    made = _post(admin, "/knowledge/guide/new", {"title": "总则", "body": body, "note": "初稿"})
    assert made.status_code == 302
    (page,) = guide.list_pages(ctx)
    second = guide.create_page(ctx, ADMIN, title="需求发起", body="写清楚目标。")

    shown = _text(staff.get(f"/knowledge/guide/{page['id']}"))
    assert "<h1>协作原则</h1>" in shown
    assert f'<a href="/knowledge/entries/{closed["lesson_id"]}">「大促协作：数据需求提前提出」</a>' in shown
    assert shown.count('href="/knowledge/entries/') == 1  # the citations shown as code or link text stay so
    assert f'<a href="https://example.com">外链 [[kb:{closed["lesson_id"]}]]</a>' in shown
    assert f"<code>[[kb:{closed['lesson_id']}]]</code>" in shown
    assert f"<pre><code>[[kb:{closed['lesson_id']}]]\n</code></pre>" in shown
    assert "<script>alert(1)</script>" not in shown and "&lt;script&gt;alert(1)&lt;/script&gt;" in shown
    assert 'href="javascript:' not in shown
    listing = _text(staff.get("/knowledge/guide"))
    assert listing.index(f'data-page="{page["id"]}"') < listing.index(f'data-page="{second}"')
    assert 'data-action="edit"' not in listing  # readers get no editing controls
    assert "总则" in _text(staff.get("/knowledge"))  # the guide is reachable from /knowledge

    form = _text(admin.get(f"/knowledge/guide/{page['id']}/edit"))
    assert 'name="revision" value="1"' in form
    looked = _post(admin, f"/knowledge/guide/{page['id']}/edit",  # a search for a lesson to cite saves nothing
                   {"title": "总则", "body": "半句话", "revision": "1", "action": "cite", "cite": "数据需求"})
    assert looked.status_code == 200
    assert ">半句话</textarea>" in _text(looked) and f'data-cite="[[kb:{closed["lesson_id"]}]]"' in _text(looked)
    assert guide.get_page(ctx, page["id"])["revision"] == 1
    clock.advance(hours=1)
    saved = _post(admin, f"/knowledge/guide/{page['id']}/edit",
                  {"title": "总则", "body": "对事不对人，先沟通后升级。", "note": "补充升级原则", "revision": "1"})
    assert saved.status_code == 302
    stale = _post(admin, f"/knowledge/guide/{page['id']}/edit", {"title": "总则", "body": "旧稿", "revision": "1"})
    assert stale.status_code == 422 and "第 2 版" in _text(stale)
    assert "先沟通后升级" in _text(staff.get(f"/knowledge/guide/{page['id']}"))

    history = _text(staff.get(f"/knowledge/guide/{page['id']}/history"))
    assert re.findall(r'data-revision="(\d+)"', history) == ["2", "1"]
    assert "补充升级原则" in history and "初稿" in history and "李经理" in history
    old = _text(staff.get(f"/knowledge/guide/{page['id']}/revisions/1"))
    assert "<h1>协作原则</h1>" in old
    assert staff.get(f"/knowledge/guide/{page['id']}/revisions/9").status_code == 404

    assert _post(admin, f"/knowledge/guide/{second}/move", {"direction": "up"}).status_code == 302
    assert [p["id"] for p in guide.list_pages(ctx)] == [second, page["id"]]
    assert _post(staff, f"/knowledge/guide/{second}/move", {"direction": "down"}).status_code == 403
    assert _post(admin, f"/knowledge/guide/{second}/retire", {"note": "并入总则"}).status_code == 302
    assert staff.get(f"/knowledge/guide/{second}").status_code == 404  # retired: readers no longer see it
    assert 'data-section="retired"' in _text(admin.get("/knowledge/guide"))
    assert _post(admin, f"/knowledge/guide/{second}/restore", {}).status_code == 302
    assert [p["id"] for p in guide.list_pages(ctx)] == [page["id"], second]


def test_the_admin_knowledge_review_links_to_the_guide_editor(app):
    html = _text(_client(app, ADMIN).get("/admin/knowledge"))
    assert 'href="/knowledge/guide"' in html and 'href="/knowledge/guide/new"' in html


# --- 协作之星 -----------------------------------------------------------------------------------

def test_the_board_shows_the_recognised_departments_with_their_requests(app, ctx, closed):
    staff = _client(app, "xiaowang")
    html = _text(staff.get("/knowledge?period=2026-11"))
    stars = dict(re.findall(r'data-star="(\w+)" data-stars="(\d+)"', html))
    assert stars == {"MKT": "1", "PRD": "1", "SAL": "1"}
    prd = html[html.index('data-star="PRD"'):html.index('data-star="SAL"')]
    assert f'data-request="{closed["request_no"]}"' in prd and "复盘协作亮点提及" in prd and "计划任务按时交付" in prd
    assert 'data-form="star-note"' not in html
    assert 'data-stars' not in _text(staff.get("/knowledge?period=2026-10"))
    assert "无法识别" in _text(staff.get("/knowledge?period=2026-13"))
    assert _post(staff, "/knowledge/stars/note", {"period": "2026-11", "dept": "PRD", "note": "好"}).status_code == 403

    admin = _client(app, ADMIN)
    assert 'data-form="star-note"' in _text(admin.get("/knowledge?period=2026-11"))
    note = {"period": "2026-11", "dept": "PRD", "note": "功能说明提前交付，特此表彰"}
    done = _post(admin, "/knowledge/stars/note", note)
    assert done.status_code == 302 and done.headers["Location"].endswith("/knowledge?period=2026-11#stars")
    assert "功能说明提前交付，特此表彰" in _text(staff.get("/knowledge?period=2026-11"))
    bad = _post(admin, "/knowledge/stars/note", {"period": "2026-11", "dept": "NOPE", "note": "好"})
    assert bad.status_code == 302
    assert "不存在" in _text(admin.get(bad.headers["Location"]))
