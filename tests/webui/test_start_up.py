"""Start-up work is done at start-up: the first user of a fresh process does not wait for it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_the_app_factory_loads_the_word_segmenter_and_importing_it_does_not(tmp_path):
    # A fresh interpreter: in this one another test may have loaded jieba already.
    code = (
        "import sys\n"
        "from engine.config import EngineConfig\n"
        "from webui import create_app\n"
        "from webui.config import WebConfig\n"
        "assert 'jieba' not in sys.modules\n"
        f"config = WebConfig(engine=EngineConfig(database_url='sqlite:///{tmp_path / 'x.db'}'), secret_key='s',\n"
        f"                   instance_path='{tmp_path / 'instance'}')\n"
        "create_app(config)\n"
        "assert sys.modules['jieba'].dt.initialized\n"
    )
    done = subprocess.run([sys.executable, "-W", "error", "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
