"""The audit area as every role sees it: auditors and admins read every request's history (filters,
exports) and replay, everyone else is told nothing exists; an auditor's every read of a request is
logged on its chain; auditors find no action to take on request and task pages, and the API refuses
them every action."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from engine.audit import anchors as audit_anchors
from engine.audit import verify as audit_verify
from engine.db import chain as audit
from engine.requests.requests import submit_request
from engine.workflow.instances import complete_task, describe_instance
from tests.scenarios.steps import REQUEST
from tests.webui.conftest import csrf_of, sign_in

AUDITOR, ADMIN, REQUESTER, HEAD, STRANGER = "shenjie", "lijingli", "xiaowang", "zhangzongjian", "linna"


@pytest.fixture
def filed(app, ctx):
    """小王's request, signed off by 张总监 and returned by the admin once: 小王 must revise it."""
    started = submit_request(ctx, REQUESTER, REQUEST)
    (signoff,) = describe_instance(ctx, started.instance_id)["open_tasks"]
    complete_task(ctx, signoff["task_id"], HEAD, {"signoff_decision": "同意", "signoff_comment": "同意提交"})
    (review,) = describe_instance(ctx, started.instance_id)["open_tasks"]
    complete_task(ctx, review["task_id"], ADMIN, {"review_decision": "退回补充", "review_comment": "请写明指标"})
    (revise,) = describe_instance(ctx, started.instance_id)["open_tasks"]
    return {"id": started.instance_id, "revise": revise["task_id"],
            "number": describe_instance(ctx, started.instance_id)["business_key"]}


def _as(app, user):
    client = app.test_client()
    assert sign_in(client, user).status_code == 302
    return client


def _views(ctx, instance_id):
    return [(e["actor"], e["data"]["view"]) for e in describe_instance(ctx, instance_id)["history"]
            if e["type"] == "request_viewed"]


def test_only_auditors_and_admins_see_the_audit_link_and_pages(app, filed):
    for user, allowed in ((AUDITOR, True), (ADMIN, True), (REQUESTER, False), (HEAD, False), (STRANGER, False)):
        client = _as(app, user)
        inbox = client.get("/inbox").get_data(as_text=True)
        assert ('data-nav="audit"' in inbox) is allowed, user
        for url in ("/audit", f"/audit/requests/{filed['id']}/history", f"/audit/requests/{filed['id']}/replay",
                    f"/audit/requests/{filed['id']}/replay.json", f"/audit/requests/{filed['id']}/history.csv",
                    f"/api/v1/requests/{filed['id']}/history", f"/api/v1/requests/{filed['id']}/replay"):
            assert client.get(url).status_code == (200 if allowed else 404), (user, url)


def test_the_index_lists_requests_with_their_verification_and_links(app, filed):
    page = _as(app, AUDITOR).get("/audit?q=XMBG").get_data(as_text=True)
    assert f'data-request="{filed["number"]}"' in page and 'data-verified="never"' in page  # not verified yet
    assert f'/audit/requests/{filed["id"]}/history' in page and f'/audit/requests/{filed["id"]}/replay' in page
    assert "没有符合条件的需求" in _as(app, AUDITOR).get("/audit?q=不存在的需求").get_data(as_text=True)


def test_history_shows_every_event_with_names_changes_and_filters(app, ctx, filed):
    client = _as(app, AUDITOR)
    page = client.get(f"/audit/requests/{filed['id']}/history").get_data(as_text=True)
    assert 'data-verified="yes"' in page and "已验证" in page
    assert 'data-type="instance_started"' in page and 'data-type="task_completed"' in page
    assert "张总监" in page and "发起部门负责人签批" in page and "请写明指标" in page
    assert "审计链完整" in page
    only_admin = client.get(f"/audit/requests/{filed['id']}/history?actor={ADMIN}").get_data(as_text=True)
    assert only_admin.count('data-actor="lijingli"') == 1 and 'data-actor="zhangzongjian"' not in only_admin
    engine = client.get(f"/audit/requests/{filed['id']}/history?type=engine").get_data(as_text=True)
    assert 'data-category="engine"' in engine and 'data-category="user"' not in engine
    future = client.get(f"/audit/requests/{filed['id']}/history?since=2099-01-01").get_data(as_text=True)
    assert "没有符合条件的事件" in future
    wrong = client.get(f"/audit/requests/{filed['id']}/history?since=11/05").get_data(as_text=True)
    assert "格式不对" in wrong and 'data-type="instance_started"' in wrong  # said, and not applied


def test_exports_hold_the_filtered_history(app, ctx, filed):
    client = _as(app, AUDITOR)
    base = f"/audit/requests/{filed['id']}/history"
    answer = client.get(base + ".csv?type=user")
    assert answer.headers["Content-Disposition"].endswith(f"{filed['number']}-history.csv")
    table = list(csv.reader(io.StringIO(answer.get_data().decode("utf-8-sig"))))
    assert table[0][:4] == ["序号", "时间", "类别", "事件"]
    assert [line[3] for line in table[1:]] == ["提交需求", "完成任务", "完成任务"]
    sheet = load_workbook(io.BytesIO(client.get(base + ".xlsx").get_data())).active
    assert sheet.title == "审计历史" and sheet.max_row > 5
    found = json.loads(client.get(base + ".json?actor=zhangzongjian").get_data())
    assert {e["actor"] for e in found["events"]} == {"zhangzongjian"}


def test_every_read_by_an_auditor_is_logged_on_the_request(app, ctx, filed):
    client = _as(app, AUDITOR)
    for url in (f"/requests/{filed['id']}", f"/tasks/{filed['revise']}", f"/audit/requests/{filed['id']}/history",
                f"/audit/requests/{filed['id']}/replay", f"/audit/requests/{filed['id']}/replay.json",
                f"/audit/requests/{filed['id']}/history.json", f"/api/v1/requests/{filed['id']}",
                f"/requests/{filed['id']}/diagram.json"):
        assert client.get(url).status_code == 200, url
    # Logged by the services that read the request, naming what was read: the replay page's data
    # (replay.json) is its read; the diagram the request page loads shows nothing beyond that page.
    assert _views(ctx, filed["id"]) == [(AUDITOR, view) for view in (
        "request", "task", "history", "replay", "history_export", "request")]
    # an admin's reads and a refused read are not logged
    _as(app, ADMIN).get(f"/audit/requests/{filed['id']}/history")
    client.get(f"/audit/requests/{filed['id']}/history.pdf")
    assert len(_views(ctx, filed["id"])) == 6
    assert 'data-verified="yes"' in client.get(f"/audit/requests/{filed['id']}/history").get_data(as_text=True)


def test_auditors_find_no_action_on_request_and_task_pages(app, ctx, filed):
    client = _as(app, AUDITOR)
    task = client.get(f"/tasks/{filed['revise']}").get_data(as_text=True)
    assert 'data-readonly="auditor"' in task and 'data-form="complete"' not in task
    assert "<form" not in re.split(r"<main[^>]*>", task)[1].split("</main>")[0]
    detail = client.get(f"/requests/{filed['id']}").get_data(as_text=True)
    assert "<form" not in re.split(r"<main[^>]*>", detail)[1].split("</main>")[0]
    assert 'data-link="replay"' in detail and 'data-link="replay"' not in _as(app, REQUESTER).get(
        f"/requests/{filed['id']}").get_data(as_text=True)
    token = csrf_of(client.get("/inbox").get_data(as_text=True))
    before = describe_instance(ctx, filed["id"])
    for action, body in (("complete", {"data": {}}), ("claim", {}), ("transfer", {"to_user": "xiaoli", "reason": "x"}),
                         ("cc", {"to_users": ["xiaoli"]}), ("urge", {}), ("comment", {"body": "看看"})):
        answer = client.post(f"/api/v1/tasks/{filed['revise']}/{action}", json=body, headers={"X-CSRFToken": token})
        assert answer.status_code in (403, 404), (action, answer.status_code)
    answer = client.post(f"/api/v1/requests/{filed['id']}/withdraw", json={"reason": "x"},
                         headers={"X-CSRFToken": token})
    assert answer.status_code == 403
    after = describe_instance(ctx, filed["id"])
    assert after["open_tasks"] == before["open_tasks"] and after["status"] == before["status"]


def test_the_replay_data_has_the_return_loop_step_by_step(app, filed):
    found = _as(app, AUDITOR).get(f"/audit/requests/{filed['id']}/replay.json").get_json()
    steps = found["steps"]
    assert [s["label"] for s in steps] == ["提交需求", "完成任务", "完成任务"]
    assert [[t["element_id"] for t in s["open"]] for s in steps] == [["dept_head_signoff"], ["admin_review"],
                                                                       ["revise_request"]]
    assert steps[1]["open"][0]["candidates"] == "平台管理员" and steps[2]["open"][0]["assignee_name"] == "小王"
    assert steps[2]["at_text"] == "9月30日 17:00"  # the reader's zone (Beijing) and language
    assert "review_gw" in steps[2]["scopes"]["main"]["completed"]
    assert found["diagrams"]["collaboration_request"]["xml"].startswith("<?xml")


def test_the_replay_data_and_the_history_name_fields_and_read_values(app, filed):
    client = _as(app, AUDITOR)
    steps = client.get(f"/audit/requests/{filed['id']}/replay.json").get_json()["steps"]
    filed_rows = {r["key"]: r for r in steps[0]["data_rows"]}
    assert filed_rows["request_no"]["label"] == "需求编号" and not filed_rows["request_no"]["internal"]
    assert filed_rows["background"]["label"] == "需求背景"  # the form's label, without its guidance
    assert filed_rows["involved_depts"]["text"] == "市场部、产品部、销售部"  # names, not ids
    assert re.fullmatch(r"9月30日 \d\d:\d\d", filed_rows["submitted_at"]["text"])  # not an ISO moment in UTC
    labelled = [r["internal"] for r in steps[0]["data_rows"]]
    assert labelled == sorted(labelled)  # the diagram's own variables come last
    client.post("/language/en", data={"csrf_token": csrf_of(client.get("/audit").get_data(as_text=True)),
                                      "next": "/audit"})
    english = {r["key"]: r for r in client.get(f"/audit/requests/{filed['id']}/replay.json").get_json()["steps"][0]
               ["data_rows"]}
    assert english["request_type"]["text"] == "Project collaboration"
    assert english["request_no"]["label"] == "Request no."
    history = client.get(f"/audit/requests/{filed['id']}/history").get_data(as_text=True)
    submitted = re.search(r'<tr class="[a-z]+" data-field="submitted_at"><th>([^<]+)</th>\s*<td><ins>([^<]+)</ins>',
                          history)
    assert submitted and submitted.group(1) == "Submitted" and re.fullmatch(r"Sep 30 \d\d:\d\d", submitted.group(2))


def test_the_replay_names_tasks_in_the_readers_language(app, filed):
    client = _as(app, AUDITOR)
    chinese = client.get(f"/audit/requests/{filed['id']}/replay.json").get_json()["steps"]
    assert chinese[0]["open"][0]["name"] == "发起部门负责人签批"
    client.post("/language/en", data={"csrf_token": csrf_of(client.get("/audit").get_data(as_text=True)),
                                      "next": "/audit"})
    english = client.get(f"/audit/requests/{filed['id']}/replay.json").get_json()["steps"]
    assert english[0]["open"][0]["name"] not in ("", "发起部门负责人签批")
    assert english[0]["open"][0]["name"].isascii()


def test_the_api_serves_history_with_filters_and_the_replay(app, filed):
    client = _as(app, AUDITOR)
    found = client.get(f"/api/v1/requests/{filed['id']}/history?type=user").get_json()
    assert [e["type"] for e in found["events"]] == ["instance_started", "task_completed", "task_completed"]
    assert found["verification"]["verified"] is True and found["filter"]["type"] == "user"
    bad = client.get(f"/api/v1/requests/{filed['id']}/history?until=yesterday")
    assert bad.status_code == 400 and "yesterday" in bad.get_json()["message"]
    assert client.get(f"/api/v1/requests/{filed['id']}/replay").get_json()["steps"][0]["type"] == "instance_started"
    assert client.get("/api/v1/requests/00000000-0000-0000-0000-000000000000/history").status_code == 404


def _row_of(page: str, instance_id: str) -> str:
    return re.search(rf'<tr data-request="[^"]*" data-instance="{instance_id}">.*?</tr>', page, re.S).group(0)


def test_the_index_shows_recorded_results_and_verifies_one_request_or_all_now(app, ctx, clock, filed):
    other = submit_request(ctx, REQUESTER, {**REQUEST, "title": "另一个需求"}).instance_id
    client = _as(app, AUDITOR)
    page = client.get("/audit").get_data(as_text=True)
    assert 'data-verified="never"' in _row_of(page, filed["id"]) and 'data-anchors="none"' in page
    # The page shows what was recorded: a chain changed since is not verified again by looking.
    with ctx.db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET actor = 'mallory' WHERE instance_id = :i AND seq = 2"),
                     {"i": filed["id"]})
    assert 'data-verified="never"' in _row_of(client.get("/audit").get_data(as_text=True), filed["id"])
    answer = client.post(f"/audit/requests/{filed['id']}/verify", data={"csrf_token": csrf_of(page), "q": "XMBG"})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/audit?q=XMBG")
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "审计链有 1 处问题" in page
    row = _row_of(page, filed["id"])
    assert 'data-verified="no"' in row and f'data-checked="{clock.now.isoformat()}"' in row
    assert 'data-verified="never"' in _row_of(page, other)  # only the one asked for
    # "Verify all": bounded steps, each continuing the last until every chain and the anchors are done.
    audit_anchors.make_anchor(ctx)
    clock.advance(minutes=1)
    step = client.post("/audit/verify", data={"csrf_token": csrf_of(page)})
    assert step.status_code == 302
    for _ in range(10):
        location = step.headers["Location"]
        if "verifying=" not in location:
            break
        page = client.get(location).get_data(as_text=True)
        assert "data-continue" in page and 'name="since"' in page
        since = re.search(r'name="since" value="([^"]+)"', page).group(1)
        step = client.post("/audit/verify", data={"csrf_token": csrf_of(page), "since": since})
    page = client.get(step.headers["Location"]).get_data(as_text=True)
    assert "data-continue" not in page and 'data-anchors="yes"' in page
    assert 'data-verified="no"' in _row_of(page, filed["id"]) and 'data-verified="yes"' in _row_of(page, other)
    assert audit_verify.recorded(ctx, [other])[other]["checked_at"] == clock.now


def test_only_auditors_verify_and_the_process_changes_page_is_theirs(app, ctx, filed):
    for user in (REQUESTER, HEAD):
        client = _as(app, user)
        token = csrf_of(client.get("/inbox").get_data(as_text=True))
        assert client.post(f"/audit/requests/{filed['id']}/verify", data={"csrf_token": token}).status_code == 404
        assert client.post("/audit/verify", data={"csrf_token": token}).status_code == 404
        assert client.get("/audit/processes").status_code == 404
    assert audit_verify.recorded(ctx, [filed["id"]]) == {}


def test_the_process_changes_page_lists_deploys_and_migrations_with_their_verification(app, ctx, filed):
    client = _as(app, AUDITOR)
    assert 'href="/audit/processes"' in client.get("/audit").get_data(as_text=True)
    page = client.get("/audit/processes").get_data(as_text=True)
    chain = audit.process_chain_id("collaboration_request")
    assert f'data-process="collaboration_request" data-chain="{chain}"' in page
    assert 'id="collaboration_request-1" data-event="process_deployed"' in page
    assert 'data-created="yes"' in page and "collaboration_request.bpmn" in page and 'data-verified="no"' not in page
    with ctx.db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET actor = 'mallory' WHERE instance_id = :i AND seq = 1"), {"i": chain})
    page = client.get("/audit/processes?process=collaboration_request").get_data(as_text=True)
    assert 'data-verified="no"' in page and 'data-kind="edited" data-position="1"' in page
    assert 'data-broken="yes"' in page
    assert client.get("/audit/processes?process=nothing_here").status_code == 404
