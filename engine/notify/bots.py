"""Department group bots: DingTalk, Feishu and WeCom webhooks, their signing schemes, answers and
rate limits, and each department's bot settings (set by its head or a platform admin).

- DingTalk: `timestamp` (ms) + "\\n" + secret, HMAC-SHA256 keyed with the secret, base64, sent as
  `&timestamp=...&sign=...` on the URL; answer `errcode` 0; 130101 means too fast. 20 a minute.
- Feishu: HMAC-SHA256 keyed with `timestamp` (s) + "\\n" + secret over an empty message, base64,
  sent as "timestamp" and "sign" in the JSON body; answer `code` 0; 9499 or 11232 mean too fast.
  100 a minute.
- WeCom: the key is part of the URL, no signature; answer `errcode` 0; 45009 means too fast.
  20 a minute.
An HTTP 429 is too fast on every platform.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from sqlalchemy import select

from engine.context import Services
from engine.db.models import Department, DepartmentBot, GroupMembership
from engine.errors import FormInvalid, NotFound, PermissionDenied
from engine.messages import render
from engine.org.directory import ADMINS, directory
from engine.workflow.notices import KINDS

PLATFORMS = ("dingtalk", "feishu", "wecom")
PER_MINUTE = {"dingtalk": 20, "feishu": 100, "wecom": 20}
DEFAULT_KINDS = ("task", "return", "urge", "escalation", "red_warning")
BOT_HOSTS = {"dingtalk": ("oapi.dingtalk.com",), "feishu": ("open.feishu.cn", "open.larksuite.com"),
          "wecom": ("qyapi.weixin.qq.com",)}
_RATE_LIMITED = {"dingtalk": {130101}, "feishu": {9499, 11232}, "wecom": {45009}}
_PATH = {"dingtalk": r"/robot/send", "feishu": r"/open-apis/bot/v2/hook/[0-9A-Za-z-]+",
         "wecom": r"/cgi-bin/webhook/send"}
BOT_TOKENS = {"dingtalk": "access_token", "wecom": "key"}  # Feishu's token is the path's last part
_SECRET = {"dingtalk": re.compile(r"^SEC[0-9A-Za-z]{16,125}$"), "feishu": re.compile(r"^[0-9A-Za-z]{8,128}$")}


class BotInvalid(FormInvalid):
    """A bot's settings were refused: the English message per field, and `codes` (check_bot) per field."""

    def __init__(self, codes: dict[str, str]):
        self.codes = dict(codes)
        super().__init__({k: _ENGLISH.get(v, v) for k, v in codes.items()})


class SendFailed(Exception):
    """A channel refused or did not answer; `retry_later` when it only asked to slow down."""

    def __init__(self, message: str, retry_later: bool = False):
        super().__init__(message)
        self.retry_later = retry_later


# ---------------------------------------------------------------------------------- validation
def check_bot(platform: str, url: str, secret: str | None, kinds, any_host: bool = False) -> dict[str, str]:
    """Problems of a bot's settings per field, as codes (the web page words them):
    platform: `unknown`; webhook_url: `empty`, `scheme`, `host`, `path`, `token`;
    secret: `format`, `unused` (WeCom signs nothing); kinds: `unknown`."""
    problems: dict[str, str] = {}
    if platform not in PLATFORMS:
        return {"platform": "unknown"}
    url = (url or "").strip()
    parts = urllib.parse.urlsplit(url) if url else None
    query = urllib.parse.parse_qs(parts.query) if parts else {}
    if not url:
        problems["webhook_url"] = "empty"
    elif parts.scheme not in (("http", "https") if any_host else ("https",)) or not parts.netloc:
        problems["webhook_url"] = "scheme"
    elif not any_host and (parts.hostname or "") not in BOT_HOSTS[platform]:
        problems["webhook_url"] = "host"
    elif not re.fullmatch(_PATH[platform], parts.path):
        problems["webhook_url"] = "path"
    elif platform in BOT_TOKENS and not query.get(BOT_TOKENS[platform], [""])[0]:
        problems["webhook_url"] = "token"
    if secret:
        if platform == "wecom":
            problems["secret"] = "unused"
        elif not _SECRET[platform].match(secret):
            problems["secret"] = "format"
    if any(k not in KINDS for k in kinds):
        problems["kinds"] = "unknown"
    return problems


_ENGLISH = {"unknown": "unknown value", "empty": "a webhook URL is needed",
            "scheme": "the webhook URL must start with https://", "host": "not the platform's webhook host",
            "path": "not a webhook address of this platform", "token": "the webhook URL lacks its token",
            "format": "not a secret of this platform", "unused": "WeCom bots take no secret"}


def mask(secret: str | None) -> str | None:
    """A stored secret as it may be shown: its first 3 and last 2 characters."""
    if not secret:
        return None
    return secret[:3] + "•" * 6 + secret[-2:] if len(secret) > 8 else "•" * 8


def mask_url(url: str) -> str:
    """A webhook URL with its token hidden (the token is as secret as the secret)."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.urlencode([(k, mask(v) or "") for k, v in urllib.parse.parse_qsl(parts.query)],
                                   safe="•")
    path = re.sub(r"(/hook/)([^/]+)$", lambda m: m.group(1) + (mask(m.group(2)) or ""), parts.path)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, query, ""))


# ---------------------------------------------------------------------------------- settings
@dataclass
class BotSettings:
    department_id: str
    platform: str
    webhook_url: str
    secret: str | None
    kinds: list[str]
    enabled: bool

    def shown(self) -> dict:
        """What a page may show: the URL's token and the secret masked."""
        return {"department_id": self.department_id, "platform": self.platform,
                "webhook_url": mask_url(self.webhook_url), "secret": mask(self.secret), "has_secret": bool(self.secret),
                "kinds": self.kinds, "enabled": self.enabled}


def bot_settings(row: DepartmentBot) -> BotSettings:
    """The settings of a bot row."""
    return BotSettings(row.department_id, row.platform, row.webhook_url, row.secret,
                       [k for k in row.kinds.split(",") if k], bool(row.enabled))


def may_manage_bot(ctx: Services, dept_id: str, user: str) -> bool:
    """Platform admins, and the department's current head, set its bot."""
    with ctx.db.read() as s:
        if s.get(GroupMembership, (user, ADMINS)) is not None:
            return True
    return directory(ctx).head(dept_id) == user


def get_bot(ctx: Services, dept_id: str) -> BotSettings | None:
    """The department's bot, or None."""
    with ctx.db.read() as s:
        row = s.get(DepartmentBot, dept_id)
        return bot_settings(row) if row else None


def set_bot(ctx: Services, dept_id: str, by: str, platform: str, webhook_url: str | None, secret: str | None,
            kinds, enabled: bool, clear_secret: bool = False) -> BotSettings:
    """Set the department's group bot. An empty URL or secret keeps the stored one (pages never show
    them in full); clear_secret removes the secret. FormInvalid names each wrong field."""
    if not may_manage_bot(ctx, dept_id, by):
        raise PermissionDenied("bot.not_head", department=dept_id, user=by)
    kinds = [k for k in KINDS if k in set(kinds)] if all(k in KINDS for k in kinds) else list(kinds)
    with ctx.db.write() as s:
        if s.get(Department, dept_id) is None:
            raise NotFound("department.unknown", department=dept_id)
        row = s.get(DepartmentBot, dept_id)
        url = (webhook_url or "").strip() or (row.webhook_url if row else "")
        key = None if clear_secret else ((secret or "").strip() or (row.secret if row and row.platform == platform
                                                                      else None))
        problems = check_bot(platform, url, key, kinds, ctx.config.webhook_any_host)
        if problems:
            raise BotInvalid(problems)
        row = row or DepartmentBot(department_id=dept_id)
        row.platform, row.webhook_url, row.secret = platform, url, key or None
        row.kinds, row.enabled = ",".join(kinds), bool(enabled)
        row.updated_by, row.updated_at = by, ctx.now()
        s.add(row)
        return bot_settings(row)


def bots_of(s, dept_ids: set[str]) -> dict[str, BotSettings]:
    """The switched-on bots of these departments (in the session `s`)."""
    if not dept_ids:
        return {}
    return {r.department_id: bot_settings(r) for r in s.scalars(select(DepartmentBot).where(
        DepartmentBot.department_id.in_(dept_ids), DepartmentBot.enabled.is_(True)))}


# ---------------------------------------------------------------------------------- sending
def signed_request(bot: BotSettings, text: str, now_ms: int) -> tuple[str, dict]:
    """The URL and JSON body of a text message to `bot`, signed as its platform wants."""
    url = bot.webhook_url
    if bot.platform == "dingtalk":
        body = {"msgtype": "text", "text": {"content": text}}
        if bot.secret:
            to_sign = f"{now_ms}\n{bot.secret}".encode()
            sign = base64.b64encode(hmac.new(bot.secret.encode(), to_sign, hashlib.sha256).digest()).decode()
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode({"timestamp": now_ms, "sign": sign})
        return url, body
    if bot.platform == "feishu":
        body = {"msg_type": "text", "content": {"text": text}}
        if bot.secret:
            seconds = now_ms // 1000
            key = f"{seconds}\n{bot.secret}".encode()
            body = {"timestamp": str(seconds),
                    "sign": base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode(), **body}
        return url, body
    return url, {"msgtype": "text", "text": {"content": text}}


def post(bot: BotSettings, text: str, now_ms: int, timeout: float) -> None:
    """Post `text` to the bot; SendFailed (retry_later when the platform asks to slow down)."""
    url, body = signed_request(bot, text, now_ms)
    req = urllib.request.Request(url, data=json.dumps(body, ensure_ascii=False).encode(), method="POST",
                                 headers={"Content-Type": "application/json; charset=utf-8"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as answer:  # noqa: S310 (checked URL)
            raw = answer.read(65536)
    except urllib.error.HTTPError as exc:
        raise SendFailed(f"HTTP {exc.code} from the {bot.platform} webhook", retry_later=exc.code == 429) from None
    except (urllib.error.URLError, OSError) as exc:
        raise SendFailed(f"the {bot.platform} webhook did not answer: {getattr(exc, 'reason', exc)}") from None
    try:
        found = json.loads(raw or b"{}")
    except ValueError:
        raise SendFailed(f"the {bot.platform} webhook answered something that is not JSON") from None
    code = found.get("errcode", found.get("code", found.get("StatusCode", 0)))
    if code not in (0, "0", None):
        message = found.get("errmsg") or found.get("msg") or found.get("StatusMessage") or ""
        raise SendFailed(f"{bot.platform} answered {code}: {message}",
                         retry_later=_as_int(code) in _RATE_LIMITED[bot.platform])


def _as_int(code) -> int | None:
    try:
        return int(code)
    except (TypeError, ValueError):
        return None


def send_test_message(ctx: Services, dept_id: str, by: str) -> None:
    """Post a test message to the department's bot at once (whether switched on or not);
    SendFailed says what the platform answered."""
    if not may_manage_bot(ctx, dept_id, by):
        raise PermissionDenied("bot.not_head", department=dept_id, user=by)
    bot = get_bot(ctx, dept_id)
    if bot is None:
        raise NotFound("bot.none", department=dept_id)
    org = directory(ctx)
    name = (org.departments.get(dept_id) or {}).get("name") or dept_id
    who = (org.users.get(by) or {}).get("name") or by
    now = ctx.now()
    post(bot, render("bot.test", {"department": name, "user": who}, ctx.config.locale), int(now.timestamp() * 1000),
         ctx.config.delivery_timeout)
