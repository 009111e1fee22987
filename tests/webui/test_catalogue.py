"""Every string of the pages is in the English catalogue, translated."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).parents[2]


def test_every_page_string_is_translated(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "_",
                    "-k", "gettext", "-k", "lazy_gettext", "-o", str(pot), "--no-location", "--omit-header", "."],
                   cwd=ROOT, check=True, capture_output=True)
    with pot.open("rb") as f:
        source = {m.id for m in read_po(f) if m.id}
    with (ROOT / "webui" / "translations" / "en" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        english = {m.id: m.string for m in read_po(f) if m.id}
    assert sorted(source - set(english)) == []  # run webui/translations/update.sh
    assert sorted(m for m in source if not english.get(m)) == []  # add them to an en_*.py
