"""Every string of the pages and of the process diagrams is in the English catalogue, translated."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from engine.bpmn.safe_xml import parse_bpmn_bytes
from webui.bpmn_messages import messages

ROOT = Path(__file__).parents[2]


def _extracted(tmp_path) -> set[str]:
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "_",
                    "-k", "_l", "-k", "gettext", "-k", "lazy_gettext", "-o", str(pot), "--no-location",
                    "--omit-header", "."], cwd=ROOT, check=True, capture_output=True)
    with pot.open("rb") as f:
        return {m.id for m in read_po(f) if m.id}


def test_every_page_string_is_translated(tmp_path):
    source = _extracted(tmp_path)
    with (ROOT / "webui" / "translations" / "en" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        english = {m.id: m.string for m in read_po(f) if m.id}
    assert sorted(source - set(english)) == []  # run webui/translations/update.sh
    assert sorted(m for m in source if not english.get(m)) == []  # add them to an en_*.py


def test_the_diagrams_texts_are_extracted(tmp_path):
    # babel.cfg maps processes/**.bpmn to webui.bpmn_messages: names, labels, guidance, options, columns
    source = _extracted(tmp_path)
    texts = {text for path in sorted((ROOT / "processes").glob("*.bpmn"))
             for _line, text, _what in messages(parse_bpmn_bytes(path.read_bytes(), path.name))}
    assert {"确认主责（24小时内）", "异议说明", "提出异议时填写：为何不应由本部门牵头、建议的主责部门", "提出异议",
            "行动事项", "有部门不同意", "问题协调（二次协调）"} <= texts
    assert sorted(texts - source) == []


def test_no_string_has_two_english_texts():
    """The areas' dicts (webui/translations/en_*.py) are merged into one catalogue: a string two areas
    translate differently would silently take whichever file is read last."""
    import runpy

    folder = ROOT / "webui" / "translations"
    given: dict[str, dict[str, str]] = {}
    for path in [folder / "fill.py", *sorted(folder.glob("en_*.py"))]:
        for source, text in runpy.run_path(str(path), run_name="catalogue_check")["ENGLISH"].items():
            given.setdefault(source, {})[path.name] = text
    assert {s: by for s, by in given.items() if len(set(by.values())) > 1} == {}
