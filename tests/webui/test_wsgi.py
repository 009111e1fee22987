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


def _serving(command: list[str], env: dict, port: int):
    """Start `command` and return it with the body and headers of its /login page, once it answers."""
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as answer:
                return server, answer.read().decode(), answer.headers
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                _stop(server)
                raise AssertionError("the server did not answer within 60 s") from None
            time.sleep(0.3)


def _stop(server) -> None:
    server.terminate()
    server.wait(30)
    server.stdout.close()


def _env(tmp_path, **more) -> dict:
    return {**os.environ, "XIEZUO_DATABASE_URL": f"sqlite:///{tmp_path / 'prod.db'}", "XIEZUO_SECRET_KEY": "s" * 32,
            "XIEZUO_INSTANCE_PATH": str(tmp_path / "instance"), **more}


def test_gunicorn_serves_the_app_with_secure_settings(tmp_path):
    port = _free_port()
    server, body, headers = _serving([str(Path(sys.executable).parent / "gunicorn"), "-w", "2", "-b",
                                      f"127.0.0.1:{port}", "webui.wsgi:app"], _env(tmp_path, XIEZUO_SECURE_COOKIES="1"),
                                     port)
    try:
        assert "登录" in body
        assert headers["Strict-Transport-Security"].startswith("max-age=")
        assert "Secure" in headers["Set-Cookie"] and "HttpOnly" in headers["Set-Cookie"]
        assert headers.get_all("Server") == ["Xiezuo"]  # not "gunicorn"
        assert headers["Cache-Control"] == "private, no-store"
    finally:
        _stop(server)


def test_the_embedded_server_names_no_version(tmp_path):
    port = _free_port()
    server, body, headers = _serving([str(Path(sys.executable).parent / "xiezuo"), "serve", "--port", str(port)],
                                     _env(tmp_path, XIEZUO_BACKGROUND="off"), port)
    try:
        assert "登录" in body
        assert headers.get_all("Server") == ["Xiezuo"]  # not "Werkzeug/3.1 Python/3.11"
    finally:
        _stop(server)
