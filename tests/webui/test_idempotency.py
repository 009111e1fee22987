"""The Idempotency-Key header of the API: a retry is answered as the first call was and runs nothing;
the key with another body is refused; each caller's keys are their own; a refused call frees its key."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.db.models import AuditEvent, ProcessInstance
from tests.scenarios.driver import MONDAY
from tests.scenarios.steps import REQUEST, REQUESTER, REQUESTER_HEAD
from tests.webui.test_api import API, SIGNOFF, session_of, token_of


@pytest.fixture(autouse=True)
def monday(clock):
    clock.now = MONDAY


def _events(ctx, kind: str) -> int:
    with ctx.db.read() as s:
        return s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.event_type == kind))


def _requests(ctx) -> int:
    with ctx.db.read() as s:
        return s.scalar(select(func.count()).select_from(ProcessInstance))


def test_a_retried_completion_gets_the_first_answer_and_completes_once(app, ctx):
    requester, head = token_of(app, REQUESTER), token_of(app, REQUESTER_HEAD)
    caller = app.test_client()
    started = caller.post(f"{API}/requests", json=REQUEST, headers=requester).get_json()
    url = f"{API}/tasks/{started['opened_tasks'][0]}/complete"
    keyed = {**head, "Idempotency-Key": "c0mplete-1"}
    first = caller.post(url, json={"data": SIGNOFF}, headers=keyed)
    assert first.status_code == 200 and "Idempotent-Replayed" not in first.headers
    again = caller.post(url, json={"data": SIGNOFF}, headers=keyed)
    assert again.status_code == 200 and again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _events(ctx, "task_completed") == 1
    # Without the key the retry cannot tell: the task is no longer open.
    assert caller.post(url, json={"data": SIGNOFF}, headers=head).get_json()["code"] == "task_not_ready"


def test_a_retried_submission_files_one_request_with_its_number_and_location(app, ctx):
    keyed = {**token_of(app, REQUESTER), "Idempotency-Key": "file-618"}
    caller = app.test_client()
    first = caller.post(f"{API}/requests", json=REQUEST, headers=keyed)
    again = caller.post(f"{API}/requests", json=REQUEST, headers=keyed)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json() and again.get_json()["request_no"] == "XMBG-202611001"
    assert again.headers["Location"] == first.headers["Location"]
    assert _requests(ctx) == 1 and _events(ctx, "instance_started") == 1


def test_the_key_with_another_body_is_refused_and_runs_nothing(app, ctx):
    keyed = {**token_of(app, REQUESTER), "Idempotency-Key": "file-618"}
    caller = app.test_client()
    filed = caller.post(f"{API}/requests", json=REQUEST, headers=keyed)
    assert filed.status_code == 201
    other = caller.post(f"{API}/requests", json={**REQUEST, "title": "另一个需求"}, headers=keyed)
    assert other.status_code == 422 and other.get_json()["code"] == "idempotency_key_reused"
    assert "Idempotency-Key" in other.get_json()["message"]
    withdraw = f"{API}/requests/{filed.get_json()['instance_id']}/withdraw"
    elsewhere = caller.post(withdraw, json={"reason": "不再需要"}, headers=keyed)
    assert elsewhere.status_code == 422 and elsewhere.get_json()["code"] == "idempotency_key_reused"
    assert _requests(ctx) == 1
    english = caller.post(f"{API}/requests", json={}, headers={**keyed, "Accept-Language": "en"})
    assert english.get_json()["message"].startswith("This Idempotency-Key was sent with another request")


def test_two_callers_with_the_same_key_do_not_collide(app, ctx):
    caller = app.test_client()
    mine = caller.post(f"{API}/requests", json=REQUEST, headers={**token_of(app, REQUESTER), "Idempotency-Key": "k"})
    theirs = caller.post(f"{API}/requests", json={**REQUEST, "title": "另一个需求"},
                         headers={**token_of(app, "songyu"), "Idempotency-Key": "k"})
    assert mine.status_code == theirs.status_code == 201
    assert {mine.get_json()["request_no"], theirs.get_json()["request_no"]} == {"XMBG-202611001", "XMBG-202611002"}
    assert _requests(ctx) == 2


def test_a_refused_call_frees_its_key_and_a_bad_key_is_400(app, ctx):
    keyed = {**token_of(app, REQUESTER), "Idempotency-Key": "file-618"}
    caller = app.test_client()
    invalid = {**REQUEST, "title": ""}
    for _ in range(2):
        refused = caller.post(f"{API}/requests", json=invalid, headers=keyed)
        assert refused.status_code == 422 and refused.get_json()["code"] == "form_invalid"
        assert "Idempotent-Replayed" not in refused.headers
    assert caller.post(f"{API}/requests", json=REQUEST, headers=keyed).status_code == 201  # the fixed body runs
    for bad in ("", "x" * 256, "clé à moi"):
        answer = caller.post(f"{API}/requests", json=REQUEST, headers={**keyed, "Idempotency-Key": bad})
        assert answer.status_code == 400 and answer.get_json()["code"] == "invalid_input", bad
    assert _requests(ctx) == 1


def test_a_session_caller_and_a_revoke_take_the_key_too(app, ctx):
    client, csrf = session_of(app, REQUESTER)
    made = client.post(f"{API}/tokens", json={"name": "脚本"}, headers=csrf)
    token_id = client.get(f"{API}/tokens").get_json()["items"][0]["id"]
    keyed = {**csrf, "Idempotency-Key": "revoke-1"}
    assert made.status_code == 201
    first = client.delete(f"{API}/tokens/{token_id}", headers=keyed)
    again = client.delete(f"{API}/tokens/{token_id}", headers=keyed)
    assert first.status_code == again.status_code == 204 and again.headers["Idempotent-Replayed"] == "true"
