"""The process owners' area through the test client: every route as every role, drafts saved,
checked and deployed as JSON, uploads, downloads, the version list and migrations."""

from __future__ import annotations

import io
import re

import pytest

from engine.requests.requests import submit_request
from engine.workflow.instances import describe_instance
from tests.conftest import FIXTURES
from tests.integration.test_migration_of_instances import version_2
from tests.scenarios.steps import REQUEST
from tests.webui.conftest import ROOT, csrf_of, sign_in

OWNER = "liuzongjian"  # 刘总监, a process owner and no platform admin
MAIN = "collaboration_request"
V1 = (ROOT / "processes" / "collaboration_request.bpmn").read_text("utf-8")


def _owner(app):
    client = app.test_client()
    assert sign_in(client, OWNER).status_code == 302
    return client, csrf_of(client.get("/inbox").get_data(as_text=True))


def _new_draft(client, token) -> int:
    page = client.get("/modeller").get_data(as_text=True)
    action = re.search(r'action="(/modeller/versions/(\d+)/draft)"', page)
    answer = client.post(action.group(1), data={"csrf_token": token})
    assert answer.status_code == 302
    return int(answer.headers["Location"].rsplit("/", 1)[-1])


def test_only_process_owners_get_in(app):
    routes = ["/modeller", "/modeller/processes/collaboration_request", "/modeller/versions/1",
              "/modeller/versions/1/diagram.json", "/modeller/versions/1/download", "/modeller/versions/1/migrate"]
    anonymous = app.test_client()
    for url in routes:
        answer = anonymous.get(url)
        assert answer.status_code == 302 and "/login" in answer.headers["Location"], url
    for user in ("xiaowang", "shenjie", "xiaozhou"):  # staff, the auditor, an admin who owns no process
        client = app.test_client()
        sign_in(client, user)
        token = csrf_of(client.get("/inbox").get_data(as_text=True))
        for url in routes:
            assert client.get(url).status_code == 403, (user, url)
        for url in ("/modeller/upload", "/modeller/versions/1/draft", "/modeller/check", "/modeller/drafts/1/save",
                    "/modeller/drafts/1/deploy", "/modeller/drafts/1/discard", "/modeller/versions/1/migrate"):
            assert client.post(url, data={"csrf_token": token}).status_code == 403, (user, url)
    for user in (OWNER, "lijingli"):
        client = app.test_client()
        sign_in(client, user)
        for url in routes:
            assert client.get(url).status_code == 200, (user, url)


def test_a_draft_is_saved_checked_and_deployed_and_new_requests_start_on_it(app, ctx):
    client, token = _owner(app)
    draft_id = _new_draft(client, token)
    page = client.get(f"/modeller/drafts/{draft_id}").get_data(as_text=True)
    assert 'id="modeller"' in page and 'data-mode="edit"' in page and "modeller/modeller.js" in page
    assert "<script>" not in page  # no inline script under the Content-Security-Policy
    loaded = client.get(f"/modeller/drafts/{draft_id}/diagram.json").get_json()
    assert (loaded["xml"], loaded["revision"]) == (V1, 1)
    headers = {"X-CSRFToken": token}

    assert client.post(f"/modeller/drafts/{draft_id}/save", json={"xml": version_2()}, headers=headers
                       ).status_code == 400  # no revision
    saved = client.post(f"/modeller/drafts/{draft_id}/save", json={"xml": version_2(), "revision": 1},
                        headers=headers)
    assert saved.get_json()["revision"] == 2
    stale = client.post(f"/modeller/drafts/{draft_id}/save", json={"xml": V1, "revision": 1}, headers=headers)
    assert stale.status_code == 409
    assert client.post("/modeller/check", json={"xml": version_2(), "filename": "collaboration_request.bpmn"},
                       headers=headers).get_json() == {"problems": []}

    deployed = client.post(f"/modeller/drafts/{draft_id}/deploy", json={"revision": 2}, headers=headers)
    assert deployed.status_code == 200, deployed.get_json()
    assert deployed.get_json()["next"] == f"/modeller/processes/{MAIN}"
    assert [(v["version"], v["created"]) for v in deployed.get_json()["versions"]] == [(2, True)]
    versions = client.get(f"/modeller/processes/{MAIN}").get_data(as_text=True)
    assert "已部署为版本 2" in versions
    assert re.search(r'data-version="2"[^>]*>.*?刘总监', versions, re.S)
    assert "新增 2 · 删除 0 · 修改 2" in versions and 'data-element="archive_check"' in versions
    started = submit_request(ctx, "xiaowang", REQUEST)
    assert describe_instance(ctx, started.instance_id)["version"] == 2
    # The deployed draft is closed; the version opens read-only and downloads as the deployed file.
    assert client.get(f"/modeller/drafts/{draft_id}").status_code == 302
    version_id = re.search(r'/modeller/versions/(\d+)"', versions).group(1)
    view = client.get(f"/modeller/versions/{version_id}").get_data(as_text=True)
    assert 'data-mode="view"' in view and 'data-action="save"' not in view
    download = client.get(f"/modeller/versions/{version_id}/download")
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert "collaboration_request_v2.bpmn" in download.headers["Content-Disposition"]
    assert download.get_data(as_text=True) == version_2()


@pytest.mark.parametrize(("fixture", "element"), [("unquoted_timer.bpmn", "WaitADay"),
                                                  ("gateway_without_default.bpmn", "Decide"),
                                                  ("user_task_unassigned.bpmn", "Orphan")])
def test_an_uploaded_invalid_diagram_is_refused_with_its_element(app, fixture, element):
    client, token = _owner(app)
    data = (FIXTURES / "hostile" / fixture).read_bytes()
    answer = client.post("/modeller/upload", data={"csrf_token": token, "file": (io.BytesIO(data), fixture)},
                         content_type="multipart/form-data")
    assert answer.status_code == 302
    draft_id = int(answer.headers["Location"].rsplit("/", 1)[-1])
    refused = client.post(f"/modeller/drafts/{draft_id}/deploy", json={"revision": 1},
                          headers={"X-CSRFToken": token, "Accept": "application/json"})
    assert refused.status_code == 422
    assert [p["element_id"] for p in refused.get_json()["problems"]] == [element]
    assert f'data-draft="{draft_id}"' in client.get("/modeller").get_data(as_text=True)  # still a draft


def test_an_upload_that_is_not_bpmn_is_refused_on_the_page(app):
    client, token = _owner(app)
    answer = client.post("/modeller/upload", data={"csrf_token": token, "file": (io.BytesIO(b"<html/>"), "x.bpmn")},
                         content_type="multipart/form-data")
    assert answer.status_code == 400
    assert "无法读取该文件" in client.get("/modeller").get_data(as_text=True)


def test_the_migration_page_lists_who_can_move_and_moves_the_chosen(app, ctx):
    client, token = _owner(app)
    old = submit_request(ctx, "xiaowang", REQUEST)
    draft_id = _new_draft(client, token)
    headers = {"X-CSRFToken": token}
    client.post(f"/modeller/drafts/{draft_id}/save", json={"xml": version_2(), "revision": 1}, headers=headers)
    client.post(f"/modeller/drafts/{draft_id}/deploy", json={"revision": 2}, headers=headers)
    versions = client.get(f"/modeller/processes/{MAIN}").get_data(as_text=True)
    link = re.search(r'href="(/modeller/versions/(\d+)/migrate)" data-action="migrate"', versions)
    preview = client.get(link.group(1)).get_data(as_text=True)
    assert f'data-instance="{old.instance_id}" data-movable="yes"' in preview
    target = re.search(r'name="to" value="(\d+)"', preview).group(1)
    moved = client.post(link.group(1), data={"csrf_token": token, "to": target, "instance": old.instance_id})
    assert moved.status_code == 302
    assert describe_instance(ctx, old.instance_id)["version"] == 2
    assert describe_instance(ctx, old.instance_id)["history"][-1]["type"] == "instance_migrated"
    after = client.get(moved.headers["Location"]).get_data(as_text=True)
    assert "已迁移 1 个需求" in after and "该版本上没有进行中的需求" in after
    # the request's own timeline names the move, for its requester
    requester = app.test_client()
    assert sign_in(requester, "xiaowang").status_code == 302
    assert "迁移到新版本" in requester.get(f"/requests/{old.instance_id}").get_data(as_text=True)


def test_the_editor_names_its_script_fields_and_the_check_refuses_a_bad_pre_script(app):
    client, token = _owner(app)
    draft_id = _new_draft(client, token)
    page = client.get(f"/modeller/drafts/{draft_id}").get_data(as_text=True)
    for key, label in [("scripts", "脚本"), ("prescript", "前置脚本"), ("postscript", "后置脚本"),
                       ("on-instances", "在每个实例上运行脚本")]:
        assert f'data-msg-{key}="{label}"' in page
    assert 'data-msg-postscript-help="环节完成后运行' in page
    post = "<spiffworkflow:postScript>dept_feedback = feedback_dept</spiffworkflow:postScript>"
    assert V1.count(post) == 1
    bad = V1.replace(post, "<spiffworkflow:preScript>import os</spiffworkflow:preScript>" + post)
    problems = client.post("/modeller/check", json={"xml": bad, "filename": "collaboration_request.bpmn"},
                           headers={"X-CSRFToken": token}).get_json()["problems"]
    assert [(p["element_id"], p["message"]) for p in problems] == [
        ("collect_feedback", "pre-script: Line 1: import is not allowed in scripts")]


def test_each_version_links_to_its_deploy_on_the_process_audit_chain(app, ctx):
    client, token = _owner(app)
    draft_id = _new_draft(client, token)
    headers = {"X-CSRFToken": token}
    client.post(f"/modeller/drafts/{draft_id}/save", json={"xml": version_2(), "revision": 1}, headers=headers)
    client.post(f"/modeller/drafts/{draft_id}/deploy", json={"revision": 2}, headers=headers)
    # 刘总监 may not enter the audit area: he sees the entry's number, not a link to a door shut to him.
    page = client.get(f"/modeller/processes/{MAIN}").get_data(as_text=True)
    assert re.findall(r'<span data-link="chain" data-seq="(\d+)">', page) == ["2", "1"]
    assert "/audit/processes" not in page
    admin = app.test_client()  # 李经理: process owner and platform admin
    assert sign_in(admin, "lijingli").status_code == 302
    versions = admin.get(f"/modeller/processes/{MAIN}").get_data(as_text=True)
    links = re.findall(r'<a href="([^"]+)" data-link="chain" data-seq="(\d+)"', versions)
    assert links == [(f"/audit/processes?process={MAIN}#{MAIN}-2", "2"), (f"/audit/processes?process={MAIN}#{MAIN}-1",
                                                                         "1")]
    entry = admin.get(links[0][0].split("#")[0]).get_data(as_text=True)
    assert f'id="{MAIN}-2" data-event="process_deployed" data-seq="2"' in entry and "刘总监" in entry
