"""A page works on one pooled connection: its reads share one read transaction, the organisation and
the signed-in account are read once, and showing a page writes nothing. Counted as the database
driver sends them (tests/db_trips.py): statements on SQLite, round trips on PostgreSQL."""

from __future__ import annotations

import pytest

from engine.requests.requests import submit_request
from tests.db_trips import DatabaseTrips
from tests.webui.conftest import csrf_of, sign_in

HEAD = "zhangzongjian"  # head of 市场部: signs off what 小王 files
REQUEST = {"request_type": "项目协作", "title": "618大促活动跨部门协作需求", "background": "联合产品部推进",
           "goal": "销售额同比增长30%", "involved_depts": ["PRD"], "details": "产品部提供功能说明",
           "expected_date": "2026-12-31", "priority": "高", "urgency": "普通", "contact": "内部号 8888"}
MOST = 15  # statements (SQLite) or round trips (PostgreSQL) of a page; before one connection a request: 23-47
CHANGES = ("INSERT", "UPDATE", "DELETE", "BEGIN IMMEDIATE")


@pytest.fixture
def trips(ctx):
    counter = DatabaseTrips(ctx.db.engine)
    yield counter
    counter.close()


@pytest.fixture
def sign_off(ctx, client):
    """The head's sign-off task of a request 小王 filed, the head signed in."""
    filed = submit_request(ctx, "xiaowang", REQUEST)
    with ctx.db.transaction(write=False) as tx:
        task_id = tx.one("SELECT task_id FROM inbox_task WHERE instance_id = ? AND assignee = ?",
                         (filed.instance_id, HEAD))[0]
    assert sign_in(client, HEAD).status_code == 302
    return task_id


@pytest.mark.parametrize("page", ["/inbox", "/tasks/{task}"])
def test_a_page_takes_one_connection_and_few_round_trips(client, trips, sign_off, page):
    path = page.format(task=sign_off)
    assert client.get(path).status_code == 200  # the first showing: the session's use is recorded
    with trips.count() as seen:
        answer = client.get(path)
    assert answer.status_code == 200 and REQUEST["title"] in answer.get_data(as_text=True)
    assert seen.checkouts == 1, seen.statements
    assert seen.trips <= MOST, seen.statements
    # One read transaction: a BEGIN and its end, and on PostgreSQL the pool's ping on checkout.
    assert seen.empty <= 3, seen.statements
    assert not [s for s in seen.statements if s.lstrip().upper().startswith(CHANGES)]


def test_a_task_page_reads_its_inbox_row_once(client, trips, sign_off):
    client.get(f"/tasks/{sign_off}")
    with trips.count() as seen:
        assert client.get(f"/tasks/{sign_off}").status_code == 200
    # The page's own reading of the row (the permission check reads the instance id, the command
    # path its own columns): once, however many of the page's parts ask.
    rows = [s for s in seen.statements if "FROM inbox_task t JOIN process_instance p" in s]
    assert len(rows) == 1, rows


def test_a_command_from_a_page_commits_on_the_same_connection(client, ctx, trips, sign_off):
    """Completing the task (a POST) reads, writes and redirects on one connection; what it wrote is
    what the next page shows."""
    page = client.get(f"/tasks/{sign_off}").get_data(as_text=True)
    with trips.count() as seen:
        answer = client.post(f"/tasks/{sign_off}", data={
            "csrf_token": csrf_of(page), "signoff_decision": "同意", "signoff_comment": "同意提交"})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:2000]
    # The command's own reads inside its transaction (the calendar, the organisation) take theirs.
    assert seen.checkouts <= 3, seen.statements
    assert sum(s.upper().startswith("COMMIT") for s in seen.statements) >= 1
    assert sign_off not in client.get("/inbox").get_data(as_text=True)  # done: no longer in the head's inbox
