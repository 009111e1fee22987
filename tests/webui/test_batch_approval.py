"""批量审批 on the inbox page and in the API: rows of a step that allows it carry a check box with the
decision they will take; the chosen tasks are done with one comment, each its own completion, and a
task that could not be done is reported by name while the others go through."""

from __future__ import annotations

import re

from tests.scenarios import steps
from tests.scenarios.driver import MONDAY, Flow
from tests.webui.conftest import csrf_of, sign_in
from tests.webui.test_api import API, token_of


def _filed(ctx, clock, titles) -> list[Flow]:
    clock.now = MONDAY
    found = []
    for title in titles:
        each = Flow(ctx, clock)
        each.submit(steps.REQUESTER, {**steps.REQUEST, "title": title})
        found.append(each)
    return found


def test_the_inbox_offers_the_batch_and_does_the_chosen_tasks_with_one_comment(app, ctx, clock):
    first, second, third = _filed(ctx, clock, ("海报设计", "渠道投放", "会员活动"))
    head = steps.HEADS["MKT"]
    client = app.test_client()
    sign_in(client, head)
    page = client.get("/inbox").get_data(as_text=True)
    assert 'id="batch-form"' in page and page.count('form="batch-form"') == 3
    assert "选入批量：同意" in page
    chosen = [f.task("dept_head_signoff")["task_id"] for f in (first, third)]
    first.complete("dept_head_signoff", {"signoff_decision": "同意", "signoff_comment": "已单独签批"})  # meanwhile
    done = client.post("/inbox/batch", data={"csrf_token": csrf_of(page), "task_ids": chosen,
                                             "comment": "同意提交"}, follow_redirects=True)
    html = done.get_data(as_text=True)
    assert "已批量办理 1 项任务。" in html
    assert re.search(r"发起部门负责人签批（XMBG-\d{9}）未能办理：", html)
    assert third.open_elements() == ["admin_review"] and second.open_elements() == ["dept_head_signoff"]
    assert [(who, done["data"]) for who, done in third.completed_by("dept_head_signoff")] == [
        (head, {"signoff_decision": "同意", "signoff_comment": "同意提交"})]
    # the admins' review allows no batch: no check box there
    admin = first.actor(first.task("admin_review"))
    reviewer = app.test_client()
    sign_in(reviewer, admin)
    client_page = reviewer.get("/inbox?tab=group").get_data(as_text=True)
    assert 'form="batch-form"' not in client_page


def test_the_api_reports_each_task_of_a_batch(app, ctx, clock):
    first, second = _filed(ctx, clock, ("海报设计", "渠道投放"))
    head = steps.HEADS["MKT"]
    auth = {**token_of(app, head), "Accept-Language": "en"}
    ids = [first.task("dept_head_signoff")["task_id"], second.task("dept_head_signoff")["task_id"], "nope"]
    answer = app.test_client().post(f"{API}/tasks/batch-approve", headers=auth,
                                    json={"task_ids": ids, "comment": "Agreed"})
    assert answer.status_code == 200
    results = answer.get_json()["results"]
    assert [r["ok"] for r in results] == [True, True, False]
    assert results[0]["task"] == "发起部门负责人签批" and results[2]["error"]["code"] in ("not_found", "task_not_ready")
    assert first.open_elements() == second.open_elements() == ["admin_review"]
    refused = app.test_client().post(f"{API}/tasks/batch-approve", headers=auth, json={"task_ids": "x"})
    assert refused.status_code == 400 and refused.get_json()["message"] == "“task_ids” must be a list of texts."


def test_an_approvers_page_says_the_vote_rule_and_where_the_vote_stands(app, ctx, clock):
    clock.now = MONDAY
    flow = Flow(ctx, clock)
    steps.to_plan(flow)
    steps.write_plan(flow)  # the heads' plan approval: 会签, refusals counted, as the diagram sets it
    flow.complete("approve_plan", steps.AGREE, assignee=steps.HEADS["PRD"])
    waiting = flow.task("approve_plan", steps.HEADS["SAL"])
    client = app.test_client()
    sign_in(client, steps.HEADS["SAL"])
    page = client.get(f"/tasks/{waiting['task_id']}").get_data(as_text=True)
    vote = re.search(r'<p class="notice vote" data-vote="all">(.*?)</p>', page, re.S)
    assert vote and "会签，全部同意才通过" in vote.group(1) and "已表决 1 / 2，其中同意 1" in vote.group(1)
