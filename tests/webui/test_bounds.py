"""Bounds on requests: ids beyond 64 bits match no route, bodies have a size limit and a JSON nesting
limit, and the answers say so in the reader's language."""

from __future__ import annotations

import io
import re

import pytest
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from tests.webui.conftest import csrf_of, sign_in
from tests.webui.test_api import API, token_of
from tests.webui.test_work import FORM
from webui.bounds import MAX_JSON_DEPTH

# Beyond a signed 64-bit integer, and just beyond what an INTEGER column holds on PostgreSQL.
TOO_BIG = ("99999999999999999999", str(2**31))


def test_every_route_with_an_id_answers_404_or_405_to_an_id_beyond_what_a_column_holds(app):
    client = app.test_client()
    assert sign_in(client, "lijingli").status_code == 302  # a platform admin passes most permission checks
    rules = [r for r in app.url_map.iter_rules() if "<int:" in r.rule]
    assert len(rules) >= 20, [r.rule for r in rules]
    for rule, number in ((r, n) for r in rules for n in TOO_BIG):
        path = re.sub(r"<int:\w+>", number, rule.rule)
        path = re.sub(r"<(?:[^:<>]+:)?\w+>", "x", path)
        for method in ("GET", "POST"):
            answer = client.open(path, method=method)
            assert answer.status_code in (404, 405), (method, path, answer.status_code)
    assert client.get(f"/knowledge/guide/{2**31 - 1}").status_code == 404  # the largest id is still looked up
    for page in ("/admin/jobs?timers=", "/admin/jobs?pending=", "/inbox?page=", "/requests?page="):
        assert client.get(page + TOO_BIG[0]).status_code in (200, 400), page  # a page number, not a 500


def test_a_json_body_nested_beyond_the_limit_is_400_not_500(app):
    auth = token_of(app, "xiaowang")
    caller = app.test_client()
    deep = "[" * 100_000 + "]" * 100_000
    answer = caller.post(f"{API}/requests", data=deep, content_type="application/json", headers=auth)
    assert answer.status_code == 400
    assert answer.get_json()["code"] == "invalid_input" and f"{MAX_JSON_DEPTH}" in answer.get_json()["message"]
    just_over = {"data": {}}
    inner = just_over["data"]
    for _ in range(MAX_JSON_DEPTH):
        inner["x"] = {}
        inner = inner["x"]
    answer = caller.post(f"{API}/tasks/nothing/complete", json=just_over, headers=auth)
    assert answer.status_code == 400 and answer.get_json()["code"] == "invalid_input"
    within = caller.post(f"{API}/tasks/nothing/complete", json={"data": {"a": [{"b": [1]}]}}, headers=auth)
    assert within.get_json()["code"] == "task_not_ready"  # parsed: the task is what is missing
    # The pages' JSON too (the modeller's checks).
    client = app.test_client()
    sign_in(client, "lijingli")
    csrf = client.get(f"{API}/me").get_json()["csrf_token"]
    page = client.post("/modeller/check", data=deep, content_type="application/json", headers={"X-CSRFToken": csrf})
    assert page.status_code == 400


def test_a_text_with_a_nul_character_is_400_on_every_database_and_nothing_is_written(app, ctx):
    """PostgreSQL stores no NUL character: a comment, a form field or a query holding one is refused
    before any view runs, in the reader's language, on SQLite as on PostgreSQL."""
    from engine.requests.records import list_records
    from tests.webui.test_work import filed, open_task, page

    instance_id = filed(ctx)
    task = open_task(ctx, instance_id, "dept_head_signoff")
    auth = token_of(app, "zhangzongjian")
    caller = app.test_client()
    answer = caller.post(f"{API}/tasks/{task['task_id']}/comment", json={"body": "预算\x00请细化"}, headers=auth)
    assert answer.status_code == 400 and answer.get_json()["code"] == "invalid_input"
    assert "NUL" in answer.get_json()["message"]
    key = caller.post(f"{API}/tasks/{task['task_id']}/comment", json={"body": "好", "\x00": 1}, headers=auth)
    assert key.status_code == 400
    client = app.test_client()
    sign_in(client, "zhangzongjian")
    url = f"/tasks/{task['task_id']}"
    form = client.post(f"{url}/comment", data={"body": "预算\x00请细化", "csrf_token": csrf_of(page(client, url))},
                       headers={"Accept-Language": "en"})
    assert form.status_code == 400
    assert client.get("/inbox?q=%00").status_code == 400
    assert [r for r in list_records(ctx, instance_id, "zhangzongjian") if r["kind"] == "comment"] == []
    ok = caller.post(f"{API}/tasks/{task['task_id']}/comment", json={"body": "预算请细化"}, headers=auth)
    assert ok.status_code in (200, 201), ok.get_json()


def test_a_body_without_files_over_the_limit_is_413_in_the_readers_language(app):
    auth = token_of(app, "xiaowang")
    big = {"data": {"x": "字" * (1024 * 1024)}}  # 3 MB of UTF-8, over the 2 MB limit
    answer = app.test_client().post(f"{API}/tasks/nothing/complete", json=big, headers=auth)
    assert answer.status_code == 413
    assert answer.get_json() == {"code": "too_large", "params": {}, "message": "请求内容过大：最多 2 MB。"}
    english = app.test_client().post(f"{API}/tasks/nothing/complete", json=big,
                                     headers={**auth, "Accept-Language": "en"})
    assert english.status_code == 413 and english.get_json()["message"] == "Request too large: at most 2 MB."


def _pairs(fields: dict) -> list[tuple[str, str]]:
    return [(k, v) for k, values in fields.items() for v in (values if isinstance(values, list) else [values])]


def _multipart(fields: dict, size: int) -> dict:
    """A form with a CSV file of `size` bytes, encoded in memory (the test client would spool it to an
    unclosed temporary file)."""
    upload = FileStorage(io.BytesIO(b"a,b\n" + b"1,2\n" * (size // 4)), "data.csv", content_type="text/csv")
    boundary, body = encode_multipart(MultiDict([*_pairs(fields), ("attachments", upload)]))
    return {"data": body, "content_type": f"multipart/form-data; boundary={boundary}"}


def test_an_attachment_larger_than_the_body_limit_is_still_uploaded(client):
    sign_in(client, "xiaowang")
    token = csrf_of(client.get("/requests/new").get_data(as_text=True))
    fields = {**FORM, "action": "submit", "csrf_token": token}
    filed = client.post("/requests/new", **_multipart(fields, 3 * 1024 * 1024))
    assert filed.status_code == 302


@pytest.mark.parametrize("app", [{"attachment_max_bytes": 1024 * 1024}], indirect=True)
def test_a_file_over_the_limit_is_refused_by_name_keeping_the_form_and_a_far_larger_body_is_413(client):
    sign_in(client, "xiaowang")
    token = csrf_of(client.get("/requests/new").get_data(as_text=True))
    fields = {**FORM, "action": "submit", "csrf_token": token}
    refused = client.post("/requests/new", **_multipart(fields, 2 * 1024 * 1024))  # no script checked it first
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "文件“data.csv”为空或超过每个文件的上限 1 MB" in html and FORM["background"] in html and FORM["goal"] in html
    huge = client.post("/requests/new", **_multipart(fields, 5 * 1024 * 1024), headers={"Accept-Language": "en"})
    assert huge.status_code == 413 and "each file at most 1 MB" in huge.get_data(as_text=True)


def test_a_405_names_the_allowed_methods(app):
    answer = app.test_client().put(f"{API}/me")
    assert answer.status_code == 405 and answer.get_json()["code"] == "method_not_allowed"
    assert set(answer.headers["Allow"].split(", ")) >= {"GET", "HEAD", "OPTIONS"}
    page = app.test_client().delete("/login")
    assert page.status_code == 405 and "POST" in page.headers["Allow"]
