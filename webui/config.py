"""The web app's configuration, passed to create_app once (never read from the environment later)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.config import EngineConfig
from engine.org.sign_in import SignInPolicy

# Whole numbers set by XIEZUO_<NAME> (e.g. XIEZUO_SESSION_IDLE_MINUTES=30).
_NUMBERS = ("login_lock_after", "login_lock_minutes", "session_idle_minutes", "session_max_hours")


@dataclass
class WebConfig:
    engine: EngineConfig = field(default_factory=EngineConfig)
    secret_key: str | None = None  # None: kept in the instance folder, created on first start
    testing: bool = False
    session_cookie_secure: bool = False  # True when served over HTTPS (production)
    ratelimit_storage_uri: str = "memory://"  # redis://127.0.0.1:6379 with several web processes
    # Failed sign-ins from one address, whatever the names tried (each name also locks on its own, below).
    login_limit: str = "30 per minute;200 per hour"
    password_change_limit: str = "10 per minute;50 per hour"  # wrong current passwords per user
    login_lock_after: int = 10  # failed sign-ins under one name within login_lock_minutes lock it ...
    login_lock_minutes: int = 15  # ... for this long (or until an admin unlocks it)
    session_idle_minutes: int = 120  # a session unused for this long has ended
    session_max_hours: int = 12  # a session this old has ended, however busy
    default_locale: str = "zh_CN"
    locales: tuple[str, ...] = ("zh_CN", "en")
    instance_path: str | None = None
    max_body_bytes: int = 2 * 1024 * 1024  # a body without files (JSON, a plain form); uploads may be larger

    @property
    def sign_in_policy(self) -> SignInPolicy:
        return SignInPolicy(self.login_lock_after, self.login_lock_minutes, self.session_idle_minutes,
                            self.session_max_hours)

    @classmethod
    def from_environ(cls, env: Mapping[str, str], database_url: str | None = None) -> WebConfig:
        """Settings from XIEZUO_* variables (the entry points call this; the app itself never does)."""
        engine = EngineConfig.from_environ(env, database_url)
        return cls(engine=engine, secret_key=env.get("XIEZUO_SECRET_KEY"), default_locale=engine.locale,
                   session_cookie_secure=env.get("XIEZUO_SECURE_COOKIES", "") in ("1", "true", "yes"),
                   ratelimit_storage_uri=env.get("XIEZUO_RATELIMIT_STORAGE", "memory://"),
                   instance_path=env.get("XIEZUO_INSTANCE_PATH"),
                   max_body_bytes=int(env.get("XIEZUO_MAX_BODY_BYTES") or cls.max_body_bytes),
                   **{n: int(env[f"XIEZUO_{n.upper()}"]) for n in _NUMBERS if env.get(f"XIEZUO_{n.upper()}")})
