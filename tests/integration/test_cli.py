"""The `xiezuo` command as a user runs it: a real process, its exit code, stdout and stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES


@pytest.fixture
def xiezuo(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "engine.cli", "--database-url", url, *args],
                              capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2])
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

    assert "not valid JSON" in xiezuo("complete", task_b, "--as", "alice", "--data", "{", ok=False).stderr
    assert "does not exist" in xiezuo("show", "no-such-instance", ok=False).stderr
    assert "not deployed" in xiezuo("start", "nope", "--as", "alice", ok=False).stderr
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
    assert refused.returncode == 2 and "bad.yaml users[1]: department 'NOPE' does not exist" in refused.stderr

    assert "MKT interface: songyu" in xiezuo("org", "post", "MKT", "interface", "songyu", "--as", "lijingli").stdout
    assert "permission_denied" in xiezuo("org", "post", "MKT", "head", "songyu", "--as", "songyu", ok=False).stderr
    xiezuo("calendar", "set", "2035-01-02", "--rest", "--note", "元旦调休", "--as", "lijingli")
    assert "2035-01-02  休息日  元旦调休" in xiezuo("calendar", "show", "2035").stdout

    xiezuo("deploy", str(FIXTURES / "request_form.bpmn"))
    first = json.loads(xiezuo("--json", "submit", "--as", "xiaowang", "--process", "request_form",
                              "--data", '{"title": "物料设计"}').stdout)
    assert first["request_no"].startswith("XMBG-") and len(first["opened_tasks"]) == 1
    missing = xiezuo("submit", "--as", "xiaowang", "--process", "request_form", "--data", "{}", ok=False)
    assert "title: required" in missing.stderr
