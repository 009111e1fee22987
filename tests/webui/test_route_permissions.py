"""Every route, as every role: who may see what, and that nobody changes what is not theirs.

A request of 小王 (市场部, involving 产品部 and 销售部) waits for 张总监's sign-off. Each route of
the app is called by an anonymous visitor, the requester, the task's holder, a platform admin,
an auditor and a stranger (人力资源部 staff); the answers are compared with the rules, and the
request's audit chain and open tasks must be unchanged by everything the auditor and the stranger
tried.
"""

from __future__ import annotations

import re

import pytest
from flask import Flask

from engine.requests.attachments import add_attachment
from engine.requests.requests import submit_request
from engine.workflow.instances import describe_instance
from tests.scenarios.steps import REQUEST
from tests.webui.conftest import csrf_of, sign_in
from webui.permissions import AUDITOR_MAY_POST

ROLES = ("anonymous", "xiaowang", "zhangzongjian", "lijingli", "shenjie", "linna")
SKIP = {"static", "pages.index", "auth.login", "auth.logout", "auth.language", "auth.choose_password",
        "requests.viewer_asset"}
OWN_LISTS = {"pages.inbox", "notifications.index", "requests.index", "work.new", "api.me",
             "api.inbox", "api.tokens", "api.openapi", "settings.index"}
# What each role may read of the request (GET of request and task routes): its people, the admins and
# the auditors; a task's form through the API only for whoever may work on it.
READS_REQUEST = {"xiaowang", "zhangzongjian", "lijingli", "shenjie"}
READERS = {"api.task": {"zhangzongjian"},
           # the audit area: auditors and platform admins only (tests/webui/test_audit_pages.py)
           **{e: {"lijingli", "shenjie"} for e in ("audit.index", "audit.history", "audit.history_export",
                                                   "audit.replay", "audit.replay_data", "api.request_history",
                                                   "api.request_replay", "audit.processes", "audit.sign_ins")}}
ADMIN_READERS = {"lijingli", "shenjie"}
# The dashboard: admins and auditors see every request's figures, a department head their departments'.
DASHBOARD_READERS = {"lijingli", "shenjie", "zhangzongjian"}


@pytest.fixture
def scene(app, ctx):
    started = submit_request(ctx, "xiaowang", REQUEST)
    (task,) = describe_instance(ctx, started.instance_id)["open_tasks"]
    attachment = add_attachment(ctx, started.instance_id, "xiaowang", "说明.txt", "功能说明\n".encode())
    return {"instance_id": started.instance_id, "task_id": task["task_id"], "attachment_id": attachment["id"],
            "number": describe_instance(ctx, started.instance_id)["business_key"],
            "cc_id": 1, "notification_id": 1, "token_id": 1,
            "dept_id": "HR", "user_id": "songyu", "entry_id": 1, "absence_id": 1,
            "draft_id": 1, "version_id": 1, "process_id": "collaboration_request", "page_id": 1, "rev": 1,
            "delivery_id": 1, "filename": "echarts.min.js"}


def _routes(app: Flask):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint in SKIP:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def _url(rule, scene: dict) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: str(scene[m.group(1)]), rule.rule)


def _client(app, role: str):
    client = app.test_client()
    if role != "anonymous":
        assert sign_in(client, role).status_code == 302
    return client


def _state(ctx, instance_id: str):
    detail = describe_instance(ctx, instance_id)
    # An auditor's reads are logged on the request's chain (request_viewed); they change nothing else.
    events = [e for e in detail["history"] if e["type"] != "request_viewed"]
    return len(events), [(t["task_id"], t["assignee"]) for t in detail["open_tasks"]], detail["status"]


def _call(client, method: str, url: str, token: str | None):
    if url.startswith("/api/"):
        headers = {"X-CSRFToken": token} if token else {}
        answer = client.open(url, method=method, json={}, headers=headers)
    else:
        answer = client.open(url, method=method, data={"csrf_token": token} if token else {})
    answer.get_data()  # read (and keep) the body, so a file sent from disk is closed
    answer.close()
    return answer


def test_every_route_answers_every_role_by_the_rules(app, ctx, scene):
    seen: dict[tuple[str, str, str], int] = {}
    for role in ROLES:
        before = _state(ctx, scene["instance_id"])
        client = _client(app, role)
        token = csrf_of(client.get("/inbox").get_data(as_text=True)) if role != "anonymous" else None
        for rule, method in _routes(app):
            url = _url(rule, scene)
            answer = _call(client, method, url, token)
            seen[(role, method, rule.endpoint)] = answer.status_code
            where = f"{role} {method} {url} -> {answer.status_code}"
            if role == "anonymous":
                # Pages send to the sign-in page; the API answers 401; a form post without a
                # session has no CSRF token and is refused before anything else (400).
                allowed = {401} if url.startswith("/api/") else {302} if method == "GET" else {302, 400}
                assert answer.status_code in allowed, where
                if answer.status_code == 302:
                    assert "/login" in answer.headers["Location"] or rule.endpoint == "pages.index", where
                continue
            if method == "GET" and rule.endpoint in OWN_LISTS:
                assert answer.status_code == 200, where
                if role == "linna" and rule.endpoint in ("pages.inbox", "requests.index", "api.inbox"):
                    assert scene["number"] not in answer.get_data(as_text=True), where
                continue
            if rule.endpoint.startswith("admin."):
                # The admin area: admins use it, auditors read it, everyone else is refused (tests/webui/test_admin.py).
                if method == "GET" or role != "lijingli":
                    expected = 200 if method == "GET" and role in ADMIN_READERS else 403
                    assert answer.status_code == expected, where
            elif rule.endpoint.startswith("modeller."):
                # Process owners only (lijingli here; tests/webui/test_modeller.py calls each route as more roles).
                if role != "lijingli":
                    assert answer.status_code == 403, where
                elif method == "GET":
                    assert answer.status_code in (200, 302, 404), where  # 404: no draft 1 (yet)
            elif rule.endpoint == "dashboard.echarts_asset":
                assert answer.status_code == 200, where  # the charting library, for everyone signed in
            elif rule.endpoint.startswith("dashboard."):
                assert answer.status_code == (200 if role in DASHBOARD_READERS else 404), where
            elif rule.endpoint.startswith(("knowledge.", "directory.")):
                # Everyone reads the knowledge base and the directory; only admins change the guide and the
                # board's notes (tests/webui/test_knowledge_pages.py). No lesson or guide page 1 exists here.
                if method != "GET" or rule.endpoint in ("knowledge.guide_new", "knowledge.guide_edit"):
                    if role != "lijingli":
                        assert answer.status_code == 403, where
                else:
                    assert answer.status_code == (404 if "<" in rule.rule else 200), where
            elif method == "GET":  # a request's or a task's page, file, diagram or export
                expected = 200 if role in READERS.get(rule.endpoint, READS_REQUEST) else 404
                assert answer.status_code == expected, where
            if role == "shenjie" and method != "GET" and rule.endpoint not in AUDITOR_MAY_POST:
                # Auditors change nothing: every state-changing route refuses them up front, saying why.
                assert answer.status_code == 403, where
                assert ("read_only_auditor" if url.startswith("/api/") else "审计员只能查看") in answer.get_data(
                    as_text=True), where
            if role == "linna" and ("<instance_id>" in rule.rule or "<task_id>" in rule.rule):
                # A request (or task) one may not see is answered as one that does not exist, whatever
                # the operation: nothing names its requester or its number.
                assert answer.status_code == 404, where
                assert scene["number"] not in answer.get_data(as_text=True), where
            if role in ("shenjie", "linna") and method != "GET":
                # Refused without a trace: never a success, never a hint that the id exists.
                assert answer.status_code in (302, 400, 403, 404, 409, 422) or rule.endpoint in (
                    "api.submit", "api.new_token", "work.new", "notifications.read_all"), where
            if role in ("shenjie", "linna"):
                assert _state(ctx, scene["instance_id"]) == before, where
    assert seen[("linna", "GET", "requests.detail")] == 404
    history = describe_instance(ctx, scene["instance_id"])["history"]
    assert {e["actor"] for e in history if e["type"] == "request_viewed"} == {"shenjie"}  # the auditor's reads
    assert seen[("shenjie", "GET", "requests.export")] == 200
    assert seen[("zhangzongjian", "GET", "work.task")] == 200
