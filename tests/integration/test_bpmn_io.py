"""The BPMN files open in bpmn.io and Camunda Modeler 7: bpmn-moddle with the Camunda extension
(what both import with) reads them without a warning."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SCRIPT = ROOT / "tests" / "js" / "open_bpmn.mjs"
PROCESSES = sorted((ROOT / "processes").glob("*.bpmn"))
FILES = PROCESSES + sorted((ROOT / "tests" / "fixtures" / "bpmn").glob("*.bpmn"))


def _open(*paths: Path) -> dict:
    assert shutil.which("node"), "node is needed (Debian's nodejs)"
    assert (ROOT / "node_modules" / "bpmn-moddle").is_dir(), "run ./run setup: it installs bpmn-moddle from npm"
    done = subprocess.run(["node", str(SCRIPT), *map(str, paths)], capture_output=True, text=True, timeout=120,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_every_process_and_fixture_opens_without_warnings():
    report = _open(*FILES)
    assert {Path(f).name for f in report} == {f.name for f in FILES}
    problems = {Path(f).name: r for f, r in report.items() if r.get("error") or r["warnings"]}
    assert problems == {}
    # The processes people edit carry their diagram (the engine's small test fixtures need none).
    assert [report[str(p)]["diagrams"] for p in PROCESSES] == [1] * len(PROCESSES)


@pytest.mark.parametrize(("change", "expected"), [
    (("camunda:assignee=", "camunda:assigne="), "unknown attribute <camunda:assigne>"),
    (('sourceRef="submitted"', 'sourceRef="nowhere"'), "unresolved reference <nowhere>"),
])
def test_the_check_sees_what_a_modeller_would_complain_about(tmp_path, change, expected):
    broken = tmp_path / "broken.bpmn"
    text = (ROOT / "tests" / "fixtures" / "bpmn" / "request_form.bpmn").read_text("utf-8")
    broken.write_text(text.replace(*change), "utf-8")
    assert expected in _open(broken)[str(broken)]["warnings"]
