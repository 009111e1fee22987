"""The web app's configuration, passed to create_app once (never read from the environment later)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.config import EngineConfig


@dataclass
class WebConfig:
    engine: EngineConfig = field(default_factory=EngineConfig)
    secret_key: str | None = None  # None: kept in the instance folder, created on first start
    testing: bool = False
    session_cookie_secure: bool = False  # True when served over HTTPS (production)
    ratelimit_storage_uri: str = "memory://"  # redis://127.0.0.1:6379 with several web processes
    login_limit: str = "10 per minute;50 per hour"  # per address and account name
    default_locale: str = "zh_CN"
    locales: tuple[str, ...] = ("zh_CN", "en")
    instance_path: str | None = None
    max_body_bytes: int = 2 * 1024 * 1024  # a body without files (JSON, a plain form); uploads may be larger

    @classmethod
    def from_environ(cls, env: Mapping[str, str], database_url: str | None = None) -> WebConfig:
        """Settings from XIEZUO_* variables (the entry points call this; the app itself never does)."""
        engine = EngineConfig.from_environ(env, database_url)
        return cls(engine=engine, secret_key=env.get("XIEZUO_SECRET_KEY"),
                   session_cookie_secure=env.get("XIEZUO_SECURE_COOKIES", "") in ("1", "true", "yes"),
                   ratelimit_storage_uri=env.get("XIEZUO_RATELIMIT_STORAGE", "memory://"),
                   instance_path=env.get("XIEZUO_INSTANCE_PATH"),
                   max_body_bytes=int(env.get("XIEZUO_MAX_BODY_BYTES") or cls.max_body_bytes))
