"""Production serving: gunicorn runs webui.wsgi:app with its settings from XIEZUO_* variables."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gunicorn_serves_the_app_with_secure_settings(tmp_path):
    port = _free_port()
    env = {**os.environ, "XIEZUO_DATABASE_URL": f"sqlite:///{tmp_path / 'prod.db'}", "XIEZUO_SECRET_KEY": "s" * 32,
           "XIEZUO_SECURE_COOKIES": "1", "XIEZUO_INSTANCE_PATH": str(tmp_path / "instance")}
    server = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}",
                               "webui.wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as answer:
                    body, headers = answer.read().decode(), answer.headers
                break
            except OSError:
                assert server.poll() is None, server.stdout.read().decode()
                assert time.monotonic() < deadline, "gunicorn did not answer within 60 s"
                time.sleep(0.3)
        assert "登录" in body
        assert headers["Strict-Transport-Security"].startswith("max-age=")
        assert "Secure" in headers["Set-Cookie"] and "HttpOnly" in headers["Set-Cookie"]
    finally:
        server.terminate()
        server.wait(30)
        server.stdout.close()
