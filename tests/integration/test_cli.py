"""The `xiezuo` command as a user runs it: a real process, its exit code, stdout and stderr."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import FIXTURES


@pytest.fixture
def xiezuo(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"

    def run(*args: str, ok: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "engine.cli.main", "--database-url", url, *args],
                              capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2],
                              env={**os.environ, **env} if env else None)
        assert (done.returncode == 0) is ok, (done.returncode, done.stdout, done.stderr)
        return done

    return run


def test_a_request_from_deploy_to_completion(xiezuo):
    assert "database ready" in xiezuo("init-db").stdout
    assert xiezuo("deploy", str(FIXTURES / "loop_2task.bpmn")).stdout.strip() == "loop_2task v1 deployed"
    assert xiezuo("deploy", str(FIXTURES / "loop_2task.bpmn")).stdout.strip() == "loop_2task v1 unchanged"
    xiezuo("users", "add", "alice", "--name", "王小明", "--group", "team")
    started = json.loads(xiezuo("--json", "start", "loop_2task", "--as", "alice", "--business-key", "XM-1",
                                "--data", '{"title": "618 大促"}').stdout)
    assert started["status"] == "running" and len(started["opened_tasks"]) == 1
    task_a = started["opened_tasks"][0]

    listing = xiezuo("tasks", "--as", "alice").stdout
    assert task_a in listing and "Task A" in listing and "XM-1" in listing
    assert f"task {task_a} claimed by alice" in xiezuo("claim", task_a, "--as", "alice").stdout
    mine = json.loads(xiezuo("--json", "tasks", "--as", "alice", "--which", "mine").stdout)["mine"]
    assert [t["task_id"] for t in mine["items"]] == [task_a]

    done = json.loads(xiezuo("--json", "complete", task_a, "--as", "alice", "--data", '{"note": "好"}').stdout)
    task_b = done["opened_tasks"][0]
    finished = json.loads(xiezuo("--json", "complete", task_b, "--as", "alice", "--data",
                                 '{"again": false}').stdout)
    assert finished["status"] == "completed"

    shown = xiezuo("show", started["instance_id"]).stdout
    assert "completed" in shown and "task_completed" in shown and "instance_completed" in shown
    verified = json.loads(xiezuo("--json", "audit", "verify").stdout)
    assert verified == {"instances": 1, "problems": []}
    assert json.loads(xiezuo("--json", "timers", "run-due").stdout) is not None


def test_a_timer_fires_only_once_the_flow_reached_it(xiezuo):
    """Step1 → … → Step4 → two seconds → Step5, every command a process that reads the instance anew."""
    xiezuo("init-db")
    xiezuo("deploy", str(FIXTURES / "timer_chain.bpmn"))
    xiezuo("users", "add", "alice", "--name", "王小明", "--group", "team")
    instance = json.loads(xiezuo("--json", "start", "timer_chain", "--as", "alice").stdout)["instance_id"]
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()

    def shown() -> tuple[list[tuple[str, str]], str | None]:
        d = json.loads(xiezuo("--json", "show", instance).stdout)
        return [(t["element_id"], t["task_id"]) for t in d["open_tasks"]], d["next_due_at"]

    for step in ("Step1", "Step2", "Step3", "Step4"):
        ([(element, task)], due) = shown()  # one step open at a time, and no timer waiting yet
        assert (element, due) == (step, None)
        completing = datetime.now(UTC)
        xiezuo("complete", task, "--as", "alice")
        if step == "Step1":
            assert json.loads(xiezuo("--json", "timers", "run-due", "--now", tomorrow).stdout) == {"fired": []}
    opened, due = shown()
    assert opened == [] and datetime.fromisoformat(due) >= completing + timedelta(seconds=2)  # Step4's
    assert json.loads(xiezuo("--json", "timers", "run-due", "--now", tomorrow).stdout) == {"fired": [instance]}
    assert [element for element, _ in shown()[0]] == ["Step5"]
    assert json.loads(xiezuo("--json", "audit", "replay", instance).stdout) == {
        "instances": 1, "matched": 1, "mismatches": []}


def test_an_anchor_deleted_from_the_database_is_named_by_its_copy_in_the_witness_file(xiezuo, tmp_path):
    witness = tmp_path / "elsewhere" / "anchors.jsonl"
    witness.parent.mkdir()
    xiezuo("init-db")
    made = json.loads(xiezuo("--json", "audit", "anchor", env={"XIEZUO_ANCHOR_WITNESS": str(witness)}).stdout)
    assert json.loads(witness.read_text())["hash"] == made["hash"]
    assert ", 1 held by the witness, 0 problem(s)" in xiezuo("audit", "verify", "--witness", str(witness)).stdout
    with sqlite3.connect(tmp_path / "cli.db") as db:  # the newest anchor, as one who can write there would
        db.execute("DELETE FROM audit_anchor WHERE id = ?", (made["id"],))
    assert "0 anchor(s), 0 problem(s)" in xiezuo("audit", "verify").stdout  # nothing left to tell by itself
    caught = xiezuo("audit", "verify", env={"XIEZUO_ANCHOR_WITNESS": str(witness)}, ok=False)
    assert caught.returncode == 1
    assert f"anchor #{made['id']} deleted: anchor {made['id']} of {made['at']} is gone" in caught.stdout


def test_errors_go_to_stderr_with_exit_2_and_name_the_problem(xiezuo):
    xiezuo("init-db")
    bad = xiezuo("deploy", str(FIXTURES / "hostile" / "reserved_id_end.bpmn"), ok=False)
    assert bad.returncode == 2 and bad.stdout == ""
    assert "reserved_id_end.bpmn" in bad.stderr and "End" in bad.stderr

    xiezuo("deploy", str(FIXTURES / "loop_2task.bpmn"))
    xiezuo("users", "add", "alice", "--group", "team")
    task = json.loads(xiezuo("--json", "start", "loop_2task", "--as", "alice").stdout)["opened_tasks"][0]
    xiezuo("complete", task, "--as", "alice", "--data", '{"note": "x"}')
    task_b = json.loads(xiezuo("--json", "tasks", "--as", "alice").stdout)["group"]["items"][0]["task_id"]

    wrong_type = xiezuo("complete", task_b, "--as", "alice", "--data", '{"again": "perhaps"}', ok=False)
    assert wrong_type.returncode == 2 and "again" in wrong_type.stderr
    as_json = json.loads(xiezuo("--json", "complete", task_b, "--as", "alice", "--data", '{"again": 3}',
                                ok=False).stderr)
    assert as_json["code"] == "form_invalid" and "again" in as_json["fields"]
    assert (as_json["message_code"], as_json["field_codes"]["again"]["code"]) == ("form.invalid", "field.not_boolean")

    assert "not valid JSON" in xiezuo("complete", task_b, "--as", "alice", "--data", "{", ok=False).stderr
    # Said in the organisation's language: Chinese unless XIEZUO_LOCALE says otherwise.
    assert xiezuo("show", "no-such-instance", ok=False).stderr == "error (not_found): 需求 no-such-instance 不存在\n"
    assert "流程 nope 尚未部署" in xiezuo("start", "nope", "--as", "alice", ok=False).stderr
    stranger = xiezuo("complete", task_b, "--as", "mallory", "--data", '{"again": false}', ok=False)
    assert "mallory" in stranger.stderr


def test_organisation_calendar_and_requests_from_the_command_line(xiezuo, tmp_path):
    demo = Path(__file__).parents[2] / "demo" / "org.yaml"
    assert "11 department(s), 26 user(s)" in xiezuo("org", "import", str(demo), "--first").stdout
    shown = json.loads(xiezuo("--json", "org", "show").stdout)
    assert {"id": "MKT", "name": "市场部", "parent": "GM", "head": "zhangzongjian", "interface": "xiaowang"} in shown

    bad = tmp_path / "bad.yaml"
    bad.write_text("users:\n  - {id: x, name: 某人, department: NOPE}\n", "utf-8")
    refused = xiezuo("org", "import", str(bad), "--as", "lijingli", ok=False)
    assert refused.returncode == 2 and "  - bad.yaml users[1]：部门“NOPE”不存在" in refused.stderr

    assert "MKT interface: songyu" in xiezuo("org", "post", "MKT", "interface", "songyu", "--as", "lijingli").stdout
    assert "permission_denied" in xiezuo("org", "post", "MKT", "head", "songyu", "--as", "songyu", ok=False).stderr
    xiezuo("calendar", "set", "2035-01-02", "--rest", "--note", "元旦调休", "--as", "lijingli")
    assert "2035-01-02  休息日  元旦调休" in xiezuo("calendar", "show", "2035").stdout

    xiezuo("deploy", str(FIXTURES / "request_form.bpmn"))
    first = json.loads(xiezuo("--json", "submit", "--as", "xiaowang", "--process", "request_form",
                              "--data", '{"title": "物料设计"}').stdout)
    assert first["request_no"].startswith("XMBG-") and len(first["opened_tasks"]) == 1
    missing = xiezuo("submit", "--as", "xiaowang", "--process", "request_form", "--data", "{}", ok=False)
    assert "  - title: 必填" in missing.stderr


def test_the_command_line_speaks_the_organisations_language(xiezuo):
    english = {"XIEZUO_LOCALE": "en"}
    xiezuo("init-db")
    assert xiezuo("show", "no-such-instance", ok=False, env=english).stderr == \
        "error (not_found): Request no-such-instance does not exist\n"
    body = json.loads(xiezuo("--json", "start", "nope", "--as", "alice", ok=False, env=english).stderr)
    assert body == {"code": "not_found", "message_code": "process.not_deployed", "params": {"process": "nope"},
                    "message": "Process nope is not deployed"}
    xiezuo("deploy", str(FIXTURES / "request_form.bpmn"))
    xiezuo("users", "add", "xiaowang", "--group", "team")
    missing = xiezuo("submit", "--as", "xiaowang", "--process", "request_form", "--data", "{}", ok=False,
                     env={"XIEZUO_LOCALE": "en_US"})
    assert "error (form_invalid): The form has problems: title" in missing.stderr
    assert "  - title: Required" in missing.stderr

    # The warning for a year whose statutory holidays are unknown, in either language.
    warning = "The statutory holidays of 2035 are not known yet"
    assert warning in xiezuo("calendar", "show", "2035", env=english).stdout
    assert "2035年的法定节假日安排尚未收录" in xiezuo("calendar", "show", "2035").stdout
    shown = json.loads(xiezuo("--json", "calendar", "show", "2035", env=english).stdout)
    (found,) = shown["warnings"]
    assert (found["code"], found["params"]) == ("calendar.year_unknown", {"year": 2035})
    assert found["message"].startswith(warning)


def test_records_and_lessons_from_the_command_line(xiezuo, tmp_path):
    from engine.bootstrap import bootstrap
    from engine.config import EngineConfig
    from engine.knowledge.lessons import propose_lesson

    demo = Path(__file__).parents[2] / "demo" / "org.yaml"
    xiezuo("org", "import", str(demo), "--first")
    xiezuo("deploy", str(FIXTURES / "request_form.bpmn"))
    filed = json.loads(xiezuo("--json", "submit", "--as", "xiaowang", "--process", "request_form",
                              "--data", '{"title": "物料设计"}').stdout)
    instance = filed["instance_id"]
    said = xiezuo("comment", instance, "请产品部5月10日前提供功能说明", "--as", "xiaowang")
    assert said.stdout.strip() == "comment added"
    note = tmp_path / "说明.txt"
    note.write_text("功能说明初稿\n", "utf-8")
    assert "说明.txt (text/plain" in xiezuo("attach", instance, str(note), "--as", "xiaowang").stdout
    fake = tmp_path / "poster.pdf"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    refused = xiezuo("attach", instance, str(fake), "--as", "xiaowang", ok=False)
    assert refused.returncode == 2 and "poster.pdf" in refused.stderr
    assert "permission_denied" in xiezuo("comment", instance, "路过", "--as", "linna", ok=False).stderr
    timeline = json.loads(xiezuo("--json", "records", instance, "--as", "shenjie").stdout)["records"]
    assert [r["kind"] for r in timeline] == ["comment", "attachment"]

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    services = bootstrap(EngineConfig(database_url=url), migrate=False)
    try:
        lesson = propose_lesson(services, title="资源申请需提前10天提交", body="建立数据共享机制，每月更新用户画像",
                                tags=["数据"], user="lijingli")
    finally:
        services.db.dispose()
    assert f"#{lesson} [proposed]" in xiezuo("lessons", "list").stdout
    assert xiezuo("--json", "lessons", "search", "数据共享").stdout.count('"total": 0') == 1
    assert "permission_denied" in xiezuo("lessons", "review", str(lesson), "--approve", "--as", "xiaowang",
                                         ok=False).stderr
    approved = xiezuo("lessons", "review", str(lesson), "--approve", "--as", "lijingli")
    assert f"lesson #{lesson} approved" in approved.stdout
    assert "资源申请需提前10天提交" in xiezuo("lessons", "search", "数据共享").stdout
