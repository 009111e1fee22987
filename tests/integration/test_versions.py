"""Drafts, checks, deploys and the version list of engine/bpmn/versions.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.bpmn.versions import (
    check_diagram,
    create_draft,
    deploy_draft,
    diff_sources,
    discard_draft,
    draft_from_version,
    get_draft,
    list_drafts,
    list_processes,
    list_versions,
    save_draft,
    upload_diagram,
    version_source,
)
from engine.errors import InvalidInput, InvalidProcess, PermissionDenied, StaleInstance
from tests.conftest import FIXTURES
from tests.integration.test_migration_of_instances import version_2
from tests.scenarios.driver import set_up_org
from tests.scenarios.steps import MAIN, REQUEST, to_review

ROOT = Path(__file__).parents[2]
V1 = (ROOT / "processes" / "collaboration_request.bpmn").read_text("utf-8")
OWNER = "liuzongjian"


@pytest.fixture
def org(ctx):
    return set_up_org(ctx)


def _latest(ctx) -> dict:
    return list_versions(ctx, MAIN)[0]


def test_a_draft_from_a_version_is_saved_checked_and_deployed_as_the_next_version(org, clock):
    v1 = _latest(org)
    draft = draft_from_version(org, v1["version_id"], OWNER)
    assert (draft["process_id"], draft["filename"], draft["revision"]) == (MAIN, "collaboration_request.bpmn", 1)
    assert draft["xml"] == V1
    saved = save_draft(org, draft["id"], OWNER, version_2(), revision=1)
    assert saved["revision"] == 2
    with pytest.raises(StaleInstance):  # someone else's older copy does not overwrite it
        save_draft(org, draft["id"], "lijingli", V1, revision=1)
    assert get_draft(org, draft["id"])["xml"] == version_2()
    assert [d["id"] for d in list_drafts(org)] == [draft["id"]]
    assert check_diagram(org, version_2(), "collaboration_request.bpmn") == []  # the called process is found

    clock.advance(hours=1)
    deployed = deploy_draft(org, draft["id"], OWNER, revision=2)
    assert [(v["process_id"], v["version"], v["created"]) for v in deployed["versions"]] == [(MAIN, 2, True)]
    assert list_drafts(org) == []
    with pytest.raises(InvalidInput):
        save_draft(org, draft["id"], OWNER, V1, revision=2)  # a deployed draft is closed

    versions = list_versions(org, MAIN)
    assert [(v["version"], v["created_by"]) for v in versions] == [(2, OWNER), (1, "lijingli")]
    assert versions[0]["created_at"] > versions[1]["created_at"]
    changes = versions[0]["changes"]
    assert {e["id"] for e in changes["added"]} == {"archive_check", "f_checked"}
    assert changes["removed"] == []
    assert {e["id"] for e in changes["changed"]} == {"lead_confirm", "f_archived"}  # a label, a new target
    assert next(e for e in changes["added"] if e["id"] == "archive_check") == {
        "id": "archive_check", "type": "userTask", "name": "归档复核"}
    assert versions[1]["changes"] is None  # the first version
    assert version_source(org, versions[0]["version_id"])["xml"] == version_2()
    # New requests start on the latest version; the counts follow them.
    to_review_flow(org, clock)
    assert [(v["version"], v["running"], v["instances"]) for v in list_versions(org, MAIN)] == [(2, 1, 1), (1, 0, 0)]
    processes = {p["process_id"]: p for p in list_processes(org)}
    assert (processes[MAIN]["latest_version"], processes[MAIN]["running"]) == (2, 1)


def to_review_flow(ctx, clock):
    from tests.scenarios.driver import MONDAY, Flow

    clock.now = MONDAY
    flow = Flow(ctx, clock)
    to_review(flow)
    assert flow.describe()["version"] == 2
    return flow


@pytest.mark.parametrize(("fixture", "element"), [
    ("unquoted_timer.bpmn", "WaitADay"),
    ("gateway_without_default.bpmn", "Decide"),
    ("user_task_unassigned.bpmn", "Orphan"),
])
def test_an_invalid_draft_is_refused_with_the_element_it_is_about_and_stays_open(org, fixture, element):
    data = (FIXTURES / "hostile" / fixture).read_bytes()
    draft = upload_diagram(org, OWNER, fixture, data)
    problems = check_diagram(org, data, fixture)
    assert [p["element_id"] for p in problems] == [element], problems
    assert problems[0]["file"] == fixture and problems[0]["line"]
    with pytest.raises(InvalidProcess) as refused:
        deploy_draft(org, draft["id"], OWNER)
    assert [p.element_id for p in refused.value.problems] == [p["element_id"] for p in problems]
    assert [d["id"] for d in list_drafts(org)] == [draft["id"]]
    assert len(list_versions(org, MAIN)) == 1


def test_an_upload_must_be_safe_bpmn_and_only_process_owners_edit(org):
    with pytest.raises(InvalidProcess):
        upload_diagram(org, OWNER, "x.bpmn", (FIXTURES / "hostile" / "xxe_external_entity.bpmn").read_bytes())
    with pytest.raises(InvalidProcess) as refused:
        upload_diagram(org, OWNER, "x.bpmn", b"<html/>")
    assert "bpmn:definitions" in str(refused.value)
    for user in ("xiaowang", "shenjie", "xiaozhou"):  # staff, the auditor, an admin who owns no process
        with pytest.raises(PermissionDenied):
            upload_diagram(org, user, "x.bpmn", V1.encode("utf-8"))
    draft = upload_diagram(org, "lijingli", "流程.bpmn", V1.encode("utf-8"))
    with pytest.raises(PermissionDenied):
        deploy_draft(org, draft["id"], "xiaowang")
    with pytest.raises(PermissionDenied):
        save_draft(org, draft["id"], "shenjie", V1, revision=1)
    discard_draft(org, draft["id"], OWNER)
    assert list_drafts(org) == []
    assert create_draft(org, OWNER, V1)["filename"] == "diagram.bpmn"


def test_deploying_an_unchanged_draft_makes_no_new_version(org):
    draft = draft_from_version(org, _latest(org)["version_id"], OWNER)
    deployed = deploy_draft(org, draft["id"], OWNER)
    assert [(v["version"], v["created"]) for v in deployed["versions"]] == [(1, False)]
    assert len(list_versions(org, MAIN)) == 1


def test_the_diff_sees_layout_only_changes_apart_from_element_changes():
    moved = V1.replace('<dc:Bounds x="', '<dc:Bounds x="1', 1)
    assert diff_sources(V1, moved) == {"added": [], "removed": [], "changed": [], "layout_changed": True}
    renamed = V1.replace('name="归档需求资料"', 'name="归档"')
    found = diff_sources(V1, renamed)
    assert (found["changed"], found["layout_changed"]) == ([{"id": "archive_request", "type": "userTask",
                                                             "name": "归档"}], False)


def test_versions_and_migration_from_the_command_line(tmp_path):
    import json
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'cli.db'}"

    def xiezuo(*args: str, ok: bool = True) -> str:
        done = subprocess.run([sys.executable, "-m", "engine.cli.main", "--database-url", url, *args],
                              capture_output=True,
                              text=True, timeout=120, cwd=ROOT)
        assert (done.returncode == 0) is ok, (done.returncode, done.stdout, done.stderr)
        return done.stdout

    xiezuo("init-db")
    xiezuo("org", "import", str(ROOT / "demo" / "org.yaml"), "--first")
    xiezuo("deploy", str(ROOT / "processes"), "--as", "lijingli")
    xiezuo("submit", "--as", "xiaowang", "--data", json.dumps(REQUEST, ensure_ascii=False))
    (tmp_path / "v2").mkdir()
    (tmp_path / "v2" / "collaboration_request.bpmn").write_text(version_2(), "utf-8")
    (tmp_path / "v2" / "conflict_resolution.bpmn").write_bytes((ROOT / "processes" / "conflict_resolution.bpmn")
                                                               .read_bytes())
    xiezuo("deploy", str(tmp_path / "v2"), "--as", OWNER)
    rows = json.loads(xiezuo("--json", "versions", MAIN))
    assert [(v["version"], v["running"]) for v in rows] == [(2, 0), (1, 1)]
    listing = xiezuo("versions", MAIN)
    assert "+2 -0 ~2" in listing and "first version" in listing
    old, new = rows[1]["version_id"], rows[0]["version_id"]
    assert "can move" in xiezuo("migrate", str(old), str(new), "--preview")
    xiezuo("migrate", str(old), str(new), ok=False)  # moving needs a process owner (--as)
    assert "moved XMBG-" in xiezuo("migrate", str(old), str(new), "--as", OWNER)
    assert [(v["version"], v["running"]) for v in json.loads(xiezuo("--json", "versions", MAIN))] == [(2, 1), (1, 0)]
