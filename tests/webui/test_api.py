"""The JSON API: personal tokens, the session-and-CSRF rule, requests and tasks end to end, errors
as JSON, who may see what, and the OpenAPI document against the registered routes."""

from __future__ import annotations

import re

import pytest

from tests.scenarios.driver import MONDAY
from tests.scenarios.steps import REQUEST, REQUESTER, REQUESTER_HEAD
from tests.webui.conftest import sign_in

API = "/api/v1"
SIGNOFF = {"signoff_decision": "同意", "signoff_comment": "同意提交"}


@pytest.fixture(autouse=True)
def monday(clock):
    clock.now = MONDAY


def session_of(app, user: str):
    """A client signed in with a session, and the CSRF token its POSTs and DELETEs send."""
    client = app.test_client()
    assert sign_in(client, user).status_code == 302
    me = client.get(f"{API}/me").get_json()
    assert me["auth"] == "session"
    return client, {"X-CSRFToken": me["csrf_token"]}


def token_of(app, user: str) -> dict:
    """The Authorization header of a new personal token of `user`."""
    client, csrf = session_of(app, user)
    answer = client.post(f"{API}/tokens", json={"name": "脚本"}, headers=csrf)
    assert answer.status_code == 201, answer.get_json()
    return {"Authorization": f"Bearer {answer.get_json()['token']}"}


def test_a_personal_token_is_made_once_used_and_revoked(app):
    client, csrf = session_of(app, REQUESTER)
    made = client.post(f"{API}/tokens", json={"name": "日报脚本"}, headers=csrf)
    assert made.status_code == 201
    token = made.get_json()["token"]
    assert token.startswith("xz_") and made.get_json()["name"] == "日报脚本"

    caller = app.test_client()  # no cookie: the token alone
    auth = {"Authorization": f"Bearer {token}"}
    answer = caller.get(f"{API}/me", headers=auth)
    assert answer.status_code == 200 and "Set-Cookie" not in answer.headers
    me = answer.get_json()
    assert me["id"] == REQUESTER and me["auth"] == "token" and "csrf_token" not in me
    listed = caller.get(f"{API}/tokens", headers=auth).get_json()["items"]
    assert [(t["name"], t["revoked"]) for t in listed] == [("日报脚本", False)] and "token" not in listed[0]
    assert listed[0]["last_used_at"] is not None

    # A token cannot make more tokens; it signs in to the API only, not to the pages.
    refused = caller.post(f"{API}/tokens", json={"name": "再来一个"}, headers=auth)
    assert refused.status_code == 403 and refused.get_json()["code"] == "permission_denied"
    assert app.test_client().get("/inbox", headers=auth).status_code == 302

    # Someone else's token does not exist for them.
    other = token_of(app, "songyu")
    assert caller.delete(f"{API}/tokens/{listed[0]['id']}", headers=other).status_code == 404
    assert caller.delete(f"{API}/tokens/{listed[0]['id']}", headers=auth).status_code == 204
    gone = caller.get(f"{API}/me", headers=auth)
    assert gone.status_code == 401 and gone.get_json()["code"] == "unauthorized"
    assert gone.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get(f"{API}/tokens").get_json()["items"][0]["revoked"] is True


def test_without_a_session_or_a_valid_token_every_call_is_401_json(app):
    caller = app.test_client()
    for method, path in (("get", "/me"), ("get", "/inbox"), ("post", "/requests"), ("get", "/openapi.json")):
        answer = getattr(caller, method)(f"{API}{path}", headers={"Authorization": "Bearer xz_not-a-token"})
        assert answer.status_code == 401 and answer.get_json()["code"] == "unauthorized", path
    assert caller.get(f"{API}/me").status_code == 401
    assert caller.get(f"{API}/nothing-here").get_json()["code"] == "not_found"


def test_a_session_call_needs_the_csrf_header_a_token_call_does_not(app):
    client, csrf = session_of(app, REQUESTER)
    refused = client.post(f"{API}/requests", json=REQUEST)
    assert refused.status_code == 400 and refused.get_json()["code"] == "csrf_failed"
    refused = client.delete(f"{API}/tokens/1")
    assert refused.status_code == 400 and refused.get_json()["code"] == "csrf_failed"
    # A session cookie wins over a token: the call is a session call and still needs the header.
    token = token_of(app, REQUESTER)
    assert client.post(f"{API}/requests", json=REQUEST, headers=token).status_code == 400
    filed = client.post(f"{API}/requests", json=REQUEST, headers=csrf)
    assert filed.status_code == 201 and filed.get_json()["request_no"] == "XMBG-202611001"
    by_token = app.test_client().post(f"{API}/requests", json=REQUEST, headers=token)
    assert by_token.status_code == 201 and by_token.get_json()["request_no"] == "XMBG-202611002"


def test_submit_then_the_head_completes_the_signoff_through_the_api(app):
    requester, head, admin = token_of(app, REQUESTER), token_of(app, REQUESTER_HEAD), token_of(app, "lijingli")
    caller = app.test_client()
    filed = caller.post(f"{API}/requests", json=REQUEST, headers=requester)
    assert filed.status_code == 201
    started = filed.get_json()
    assert started["status"] == "running" and len(started["opened_tasks"]) == 1
    assert filed.headers["Location"] == f"{API}/requests/{started['instance_id']}"

    inbox = caller.get(f"{API}/inbox", headers=head).get_json()
    assert inbox["total"] == 1 and inbox["page"] == 1
    row = inbox["items"][0]
    assert row["task_id"] == started["opened_tasks"][0] and row["element_id"] == "dept_head_signoff"
    assert row["request"]["request_no"] == started["request_no"] and row["request"]["urgency"] == "紧急"
    assert row["overdue"] is False and row["red_warning"] is False
    assert caller.get(f"{API}/inbox?urgency=普通", headers=head).get_json()["total"] == 0
    assert caller.get(f"{API}/inbox?department=PRD&sort=-due", headers=head).get_json()["total"] == 1
    assert caller.get(f"{API}/inbox?which=nobody", headers=head).status_code == 400
    assert caller.get(f"{API}/inbox?per_page=1000", headers=head).status_code == 400

    task_url = f"{API}/tasks/{row['task_id']}"
    form = caller.get(task_url, headers=head).get_json()
    assert "signoff_decision" in [f["id"] for f in form["form"]["fields"]]
    assert form["data"]["title"] == REQUEST["title"]
    invalid = caller.post(f"{task_url}/complete", json={"data": {"signoff_decision": "随便"}}, headers=head)
    assert invalid.status_code == 422
    assert invalid.get_json()["code"] == "form_invalid" and "signoff_decision" in invalid.get_json()["fields"]
    done = caller.post(f"{task_url}/complete", json={"data": SIGNOFF}, headers=head)
    assert done.status_code == 200 and done.get_json()["status"] == "running"
    again = caller.post(f"{task_url}/complete", json={"data": SIGNOFF}, headers=head)
    assert again.status_code == 409 and again.get_json()["code"] == "task_not_ready"

    offered = caller.get(f"{API}/inbox?which=group", headers=admin).get_json()["items"]
    assert [t["task_id"] for t in offered] == done.get_json()["opened_tasks"]
    assert caller.get(f"{API}/inbox?which=done", headers=head).get_json()["items"][0]["task_id"] == row["task_id"]
    review = f"{API}/tasks/{offered[0]['task_id']}"
    assert caller.post(f"{review}/claim", headers=admin).status_code == 200
    assert caller.get(f"{API}/inbox", headers=admin).get_json()["total"] == 1
    assert caller.post(f"{review}/release", headers=admin).status_code == 200
    assert caller.get(f"{API}/inbox?which=group", headers=admin).get_json()["total"] == 1


def test_a_form_error_on_submit_is_422_with_the_fields(app):
    answer = app.test_client().post(f"{API}/requests", json={"title": "尽快配合"}, headers=token_of(app, REQUESTER))
    assert answer.status_code == 422
    body = answer.get_json()
    assert body["code"] == "form_invalid" and {"request_type", "goal", "involved_depts"} <= set(body["fields"])
    not_json = app.test_client().post(f"{API}/requests", data="[1, 2]", headers=token_of(app, REQUESTER))
    assert not_json.status_code == 400 and not_json.get_json() == {
        "code": "invalid_input", "message_code": "api.not_object", "params": {}, "message": "请求体须为 JSON 对象。"}
    # JSON carries types: a number is not text, a comma-separated text is not a list.
    wrong = {**REQUEST, "contact": 8888, "involved_depts": "PRD,SAL"}
    typed = app.test_client().post(f"{API}/requests", json=wrong, headers=token_of(app, REQUESTER))
    assert typed.status_code == 422 and typed.get_json()["field_codes"] == {
        "contact": {"code": "json.not_text", "params": {}}, "involved_depts": {"code": "json.not_ids", "params": {}}}
    assert typed.get_json()["fields"] == {"contact": "应为文本", "involved_depts": "应为编号（文本）的列表"}
    english = app.test_client().post(f"{API}/requests", json=wrong,
                                     headers={**token_of(app, REQUESTER), "Accept-Language": "en"})
    assert english.get_json()["fields"] == {"contact": "Must be text", "involved_depts": "Must be a list of ids (text)"}


def test_an_error_says_what_by_its_code_and_parameters_in_the_callers_language(app, ctx):
    from engine.org.accounts import set_preferences

    said = {"code": "invalid_input", "message_code": "choice.unknown",
            "params": {"what": {"code": "what.tab", "params": {}}, "given": "nobody",
                       "known": ["mine", "group", "cc", "done"]}}
    caller, requester = app.test_client(), token_of(app, REQUESTER)
    url = f"{API}/inbox?which=nobody"
    answer = caller.get(url, headers=requester)
    assert answer.status_code == 400
    assert answer.get_json() == {**said, "message": "未知的标签页“nobody”（可选：mine、group、cc、done）"}
    english = {**said, "message": "Unknown tab “nobody” (known: mine, group, cc, done)"}
    assert caller.get(url, headers={**requester, "Accept-Language": "en"}).get_json() == english
    # A person's own setting is their language, whatever the client sends.
    set_preferences(ctx, REQUESTER_HEAD, locale="en")
    head = token_of(app, REQUESTER_HEAD)
    assert caller.get(url, headers=head).get_json() == english
    assert caller.get(url, headers={**head, "Accept-Language": "zh-CN"}).get_json() == english


def test_a_submission_too_large_for_one_command_is_422_naming_the_element_and_files_nothing(app, ctx):
    ctx.config.command_max_bytes = 2_000  # the request's own fields, copied into the tasks its start opens
    answer = app.test_client().post(f"{API}/requests", json=REQUEST, headers=token_of(app, REQUESTER))
    assert answer.status_code == 422
    body = answer.get_json()
    assert body["code"] == "command_too_large" and body["limit"] == 2_000 and body["element_id"]
    assert body["message_code"] == "command.too_large_because" and body["message"].endswith("；均未保存")
    english = app.test_client().post(f"{API}/requests", json=REQUEST,
                                     headers={**token_of(app, REQUESTER), "Accept-Language": "en"}).get_json()
    assert english["message_code"] == "command.too_large_because" and english["params"] == body["params"]
    assert english["message"].endswith("; nothing of it was saved")
    with ctx.db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM process_instance").scalar() == 0


def test_a_strangers_task_and_request_do_not_exist_for_them(app):
    requester, stranger = token_of(app, REQUESTER), token_of(app, "songyu")
    caller = app.test_client()
    started = caller.post(f"{API}/requests", json=REQUEST, headers=requester).get_json()
    task_url = f"{API}/tasks/{started['opened_tasks'][0]}"
    for method, path, body in (("get", "", None), ("post", "/complete", {"data": SIGNOFF}),
                               ("post", "/transfer", {"to_user": "songyu", "reason": "我来"}),
                               ("post", "/comment", {"body": "看看"}), ("post", "/urge", {"message": "快"})):
        answer = getattr(caller, method)(task_url + path, json=body, headers=stranger)
        assert answer.status_code == 404 and answer.get_json()["code"] == "not_found", path
    request_url = f"{API}/requests/{started['instance_id']}"
    assert caller.get(request_url, headers=token_of(app, "linna")).status_code == 404  # 人力资源部: not involved
    # The same rule as the request page: a colleague of the requester's department may read it.
    assert caller.get(request_url, headers=stranger).status_code == 200
    assert caller.get(f"{API}/requests/no-such-request", headers=requester).status_code == 404
    for reader in (REQUESTER, REQUESTER_HEAD, "shenjie", "lijingli"):  # requester, task holder, auditor, admin
        found = caller.get(request_url, headers=token_of(app, reader))
        assert found.status_code == 200, reader
        assert found.get_json()["request"]["request_no"] == started["request_no"]
        assert found.get_json()["red_warnings"] == []


def test_task_operations_through_the_api(app, ctx):
    requester, head = token_of(app, REQUESTER), token_of(app, REQUESTER_HEAD)
    caller = app.test_client()
    started = caller.post(f"{API}/requests", json=REQUEST, headers=requester).get_json()
    task_url = f"{API}/tasks/{started['opened_tasks'][0]}"
    copied = caller.post(f"{task_url}/cc", json={"to_users": ["songyu"], "note": "请知悉"}, headers=head)
    assert copied.status_code == 200
    cc = caller.get(f"{API}/inbox?which=cc", headers=token_of(app, "songyu")).get_json()["items"]
    assert [(c["task_id"], c["note"]) for c in cc] == [(started["opened_tasks"][0], "请知悉")]
    assert caller.post(f"{task_url}/cc", json={"to_users": "songyu"}, headers=head).status_code == 400
    assert caller.post(f"{task_url}/urge", json={"message": "请今天签批"}, headers=requester).status_code == 200
    commented = caller.post(f"{task_url}/comment", json={"body": "已看过材料"}, headers=head)
    assert commented.status_code == 201 and isinstance(commented.get_json()["id"], int)
    assert caller.post(f"{task_url}/comment", json={"body": ""}, headers=head).status_code == 422

    delegated = caller.post(f"{task_url}/delegate", json={"to_user": "songyu", "reason": "先帮我看"}, headers=head)
    assert delegated.status_code == 200
    delegate = token_of(app, "songyu")
    assert caller.get(f"{API}/inbox", headers=delegate).get_json()["items"][0]["delegated_by"] == REQUESTER_HEAD
    assert caller.post(f"{task_url}/resolve", json={"comment": "看完了"}, headers=delegate).status_code == 200
    moved = caller.post(f"{task_url}/transfer", json={"to_user": "chenzongjian", "reason": "请陈总签"}, headers=head)
    assert moved.status_code == 200
    assert caller.get(f"{API}/inbox", headers=head).get_json()["total"] == 0
    assert caller.get(f"{API}/inbox", headers=token_of(app, "chenzongjian")).get_json()["total"] == 1

    fresh = caller.post(f"{API}/requests", json=REQUEST, headers=requester).get_json()
    assert caller.post(f"{API}/requests/{fresh['instance_id']}/withdraw", json={"reason": "不需要了"},
                       headers=head).status_code == 403
    withdrawn = caller.post(f"{API}/requests/{fresh['instance_id']}/withdraw", json={"reason": "不需要了"},
                            headers=requester)
    assert withdrawn.status_code == 200 and withdrawn.get_json()["status"] == "cancelled"


def _documented(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)[len(API):]


def test_the_openapi_document_lists_exactly_the_registered_routes(app):
    doc = app.test_client().get(f"{API}/openapi.json", headers=token_of(app, REQUESTER)).get_json()
    assert doc["openapi"].startswith("3.1")
    registered = {(_documented(r.rule), m.lower()) for r in app.url_map.iter_rules() if r.rule.startswith(API + "/")
                  for m in r.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert registered == documented
    for path, ops in doc["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        for method, op in ops.items():
            assert {p["name"] for p in op.get("parameters", []) if p["in"] == "path"} == names, (path, method)
            assert op["responses"] and all("description" in r for r in op["responses"].values())
            assert method == "get" or method == "delete" or "requestBody" in op or path.endswith(("/claim",
                                                                                                   "/release"))
    refs = set(re.findall(r'"#/components/schemas/(\w+)"', str(doc).replace("'", '"')))
    assert refs <= set(doc["components"]["schemas"])


def test_an_auditor_files_nothing_and_no_task_can_become_theirs(app):
    auditor = token_of(app, "shenjie")
    caller = app.test_client()
    refused = caller.post(f"{API}/requests", json=REQUEST, headers=auditor)
    assert refused.status_code == 403 and refused.get_json()["code"] == "read_only_auditor"

    head = token_of(app, REQUESTER_HEAD)
    filed = caller.post(f"{API}/requests", json=REQUEST, headers=token_of(app, REQUESTER)).get_json()
    (task,) = caller.get(f"{API}/inbox", headers=head).get_json()["items"]
    assert task["instance_id"] == filed["instance_id"]
    for operation in ("transfer", "delegate"):
        answer = caller.post(f"{API}/tasks/{task['task_id']}/{operation}",
                             json={"to_user": "shenjie", "reason": "请审计"}, headers=head)
        assert answer.status_code == 400, answer.get_json()
        assert answer.get_json() == {"code": "invalid_input", "message_code": "task.hand_to_auditor",
                                     "params": {"user": "shenjie"},
                                     "message": "所选的人是审计员：审计员只查看、不更改，任务不能交给审计员"}
    assert caller.get(f"{API}/inbox", headers=auditor).get_json()["items"] == []
    for operation in ("complete", "claim", "urge", "comment"):
        answer = caller.post(f"{API}/tasks/{task['task_id']}/{operation}", json={}, headers=auditor)
        assert answer.status_code == 403 and answer.get_json()["code"] == "read_only_auditor", operation
def test_the_openapi_document_says_what_the_server_enforces(app):
    doc = app.test_client().get(f"{API}/openapi.json", headers=token_of(app, REQUESTER)).get_json()
    new_request = doc["components"]["schemas"]["NewRequest"]
    assert new_request["additionalProperties"] is False
    assert {"title", "goal", "involved_depts", "expected_date"} <= set(new_request["required"])
    assert not {"priority", "urgency", "related_project"} & set(new_request["required"])  # defaults, or optional
    title, goal = new_request["properties"]["title"], new_request["properties"]["goal"]
    assert (title["maxLength"], title["minLength"], goal["maxLength"]) == (100, 1, 20_000)
    assert new_request["properties"]["involved_depts"]["minItems"] == 1
    withdraw = doc["paths"]["/requests/{instance_id}/withdraw"]["post"]
    reason = withdraw["requestBody"]["content"]["application/json"]["schema"]["properties"]["reason"]
    assert (reason["minLength"], reason["maxLength"], reason["pattern"]) == (1, 2000, r"\S")
    comment = doc["paths"]["/tasks/{task_id}/comment"]["post"]["requestBody"]["content"]["application/json"]
    assert comment["schema"]["properties"]["body"]["maxLength"] == 20_000
    commands = [(path, method, op) for path, ops in doc["paths"].items() for method, op in ops.items()
                if method in ("post", "delete") and path != "/tokens"]
    assert len(commands) == 13  # batch-approve among them
    for path, method, op in commands:
        assert {"400", "401", "404", "409", "413", "422"} <= set(op["responses"]), (path, method)
        assert "Idempotency-Key" in [p["name"] for p in op["parameters"] if p["in"] == "header"], (path, method)
