"""Local stand-ins for the outside world of notifications: an SMTP server (aiosmtpd) and a webhook
receiver that answers as DingTalk, Feishu and WeCom do and checks each platform's signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import urllib.parse
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpServer:
    """An SMTP server on 127.0.0.1 that keeps every message; login accepted for `user`/`password`."""

    def __init__(self, user: str | None = None, password: str | None = None):
        self.messages: list = []
        self.logins: list[str] = []
        self.port = free_port()
        self._user, self._password = user, password
        kwargs = {}
        if user:
            kwargs = {"authenticator": self._authenticate, "auth_require_tls": False}
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **kwargs)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = auth_data.login.decode() == self._user and auth_data.password.decode() == self._password
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


def _b64_hmac(key: bytes, msg: bytes) -> str:
    return base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()


class WebhookReceiver:
    """Group-bot webhooks of the three platforms on 127.0.0.1, each checking its signature like the
    platform does. `answers` scripts what the next posts get: ("http", 500) or ("code", N)."""

    PATHS = {"dingtalk": "/robot/send?access_token=tok123", "feishu": "/open-apis/bot/v2/hook/abc-123",
             "wecom": "/cgi-bin/webhook/send?key=key-123"}

    def __init__(self, secrets: dict[str, str] | None = None):
        self.secrets = dict(secrets or {})
        self.messages: list[tuple[str, str]] = []  # (platform, text) of every accepted post
        self.refused: list[tuple[str, str]] = []  # (platform, why) of posts refused for their signature
        self.answers: list[tuple[str, int]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
                status, answer = receiver.handle(self.path, body)
                raw = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, platform: str) -> str:
        return self.base + self.PATHS[platform]

    def texts(self, platform: str | None = None) -> list[str]:
        with self.lock:
            return [t for p, t in self.messages if platform in (None, p)]

    def handle(self, path: str, body: dict) -> tuple[int, dict]:
        parts = urllib.parse.urlsplit(path)
        platform = next(p for p, known in self.PATHS.items() if known.split("?")[0] == parts.path)
        ok = {"feishu": {"code": 0, "msg": "success", "data": {}}}.get(platform, {"errcode": 0, "errmsg": "ok"})
        secret = self.secrets.get(platform)
        if platform == "dingtalk":
            query = dict(urllib.parse.parse_qsl(parts.query))
            text = body["text"]["content"]
            signed = f"{query.get('timestamp')}\n{secret}".encode()
            if secret and query.get("sign") != _b64_hmac(secret.encode(), signed):
                return self._refuse(platform, {"errcode": 310000, "errmsg": "sign not match"})
        elif platform == "feishu":
            text = body["content"]["text"]
            if secret and body.get("sign") != _b64_hmac(f"{body.get('timestamp')}\n{secret}".encode(), b""):
                return self._refuse(platform, {"code": 19021, "msg": "sign match fail"})
        else:
            text = body["text"]["content"]
            if "key=key-123" not in parts.query:
                return self._refuse(platform, {"errcode": 93000, "errmsg": "invalid webhook url"})
        with self.lock:
            scripted = self.answers.pop(0) if self.answers else None
            if scripted is None:
                self.messages.append((platform, text))
        if scripted is None:
            return 200, ok
        what, value = scripted
        if what == "http":
            return value, {"error": "scripted"}
        if platform == "feishu":
            return 200, {"code": value, "msg": "scripted"}
        return 200, {"errcode": value, "errmsg": "scripted"}

    def _refuse(self, platform: str, answer: dict) -> tuple[int, dict]:
        with self.lock:
            self.refused.append((platform, json.dumps(answer)))
        return 200, answer

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
