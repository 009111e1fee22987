"""Engine configuration, passed in once by the caller (the engine never reads the environment)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from engine.messages.render import language


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class EngineConfig:
    database_url: str = "sqlite:///xiezuo.db"
    script_time_limit: float = 1.0
    # What a script may build: one variable as task data, and the server memory while it runs.
    script_value_max_bytes: int = 256_000
    script_memory_max_bytes: int = 256_000_000
    # Task data one command may write (UTF-8 JSON, summed over the task rows it writes); a larger step
    # is refused before anything is written and its instance stops errored, naming the element.
    command_max_bytes: int = 1_000_000
    workflow_cache_size: int = 256
    default_priority: int = 50
    fallback_group: str = "platform_admins"  # who gets a task whose assignment resolves to nobody
    clock: Callable[[], datetime] = field(default=system_clock)
    timezone: str = "Asia/Shanghai"  # local dates: working days, out-of-office ranges, request months
    # The organisation's language: what is shared (group bots) and the command line speak, and a
    # person's default (engine.messages: zh_CN or en).
    locale: str = "zh_CN"
    echo_sql: bool = False
    # SQLite only: "FULL" (default) syncs the WAL on every commit, so an acknowledged command survives
    # a power cut; "NORMAL" skips that sync (more commits per second, the last ones may be lost).
    sqlite_synchronous: str = "FULL"
    attachment_max_bytes: int = 20 * 1024 * 1024  # larger uploads are refused before anything is stored
    attachment_dir: str | None = None  # attachments' bytes on disk under this folder; None: in the database

    # Notifications beyond the app (engine.notify): email over SMTP, department group bots.
    smtp_host: str | None = None  # None: no email is sent (the email channel is not offered)
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "xiezuo@localhost"
    smtp_starttls: bool = True
    base_url: str = "http://127.0.0.1:5000"  # links in emails and bot messages to tasks and requests
    webhook_any_host: bool = False  # True: bots may post to any http(s) host (an intranet proxy, tests)
    delivery_timeout: float = 10.0  # seconds an SMTP server or a webhook may take to answer

    # Background work (engine.background): the timer sweep, the notification sender, anchoring.
    broker_url: str | None = None  # Celery on this broker (e.g. redis://127.0.0.1:6379/0); None: in-process
    background: str = "thread"  # "thread": `xiezuo serve` runs it; "off": only `xiezuo worker` processes do
    sweep_interval: float = 1.0  # seconds between two looks at the due timers and pending notices
    # A file outside the database (another disk, a mount of another host, a log shipper's input) to
    # which every audit anchor is appended as it is made; verification compares the anchors with it,
    # so even the newest anchor cannot be deleted or rewritten unseen. None: no such copy.
    anchor_witness: str | None = None
    # An API command sent with an Idempotency-Key keeps its answer this long for retries; then the
    # background cleanup forgets it and the key may name a new command.
    idempotency_hours: float = 24.0

    @classmethod
    def from_environ(cls, env: Mapping[str, str], database_url: str | None = None) -> EngineConfig:
        """Settings from XIEZUO_* variables; the entry points (CLI, WSGI, workers) call this and pass
        the result on, the engine itself never reads the environment."""
        config = cls(database_url=database_url or env.get("XIEZUO_DATABASE_URL") or env.get("DATABASE_URL")
                     or cls.database_url)
        if env.get("XIEZUO_ATTACHMENT_DIR"):
            config.attachment_dir = env["XIEZUO_ATTACHMENT_DIR"]
        if env.get("XIEZUO_BROKER_URL"):
            config.broker_url = env["XIEZUO_BROKER_URL"]
        if env.get("XIEZUO_BACKGROUND"):
            config.background = env["XIEZUO_BACKGROUND"]
        if env.get("XIEZUO_ANCHOR_WITNESS"):
            config.anchor_witness = env["XIEZUO_ANCHOR_WITNESS"]
        if env.get("XIEZUO_LOCALE"):
            config.locale = language(env["XIEZUO_LOCALE"])  # en (en_US, en-GB, ...) or zh_CN
        if env.get("XIEZUO_SQLITE_SYNCHRONOUS"):
            config.sqlite_synchronous = env["XIEZUO_SQLITE_SYNCHRONOUS"].upper()
        for name in ("script_value_max_bytes", "script_memory_max_bytes", "command_max_bytes"):
            if env.get(f"XIEZUO_{name.upper()}"):
                setattr(config, name, int(env[f"XIEZUO_{name.upper()}"]))
        if env.get("XIEZUO_IDEMPOTENCY_HOURS"):
            config.idempotency_hours = float(env["XIEZUO_IDEMPOTENCY_HOURS"])
        if env.get("XIEZUO_SWEEP_INTERVAL"):
            config.sweep_interval = float(env["XIEZUO_SWEEP_INTERVAL"])
        for name in ("smtp_host", "smtp_user", "smtp_password", "smtp_from", "base_url"):
            if env.get(f"XIEZUO_{name.upper()}"):
                setattr(config, name, env[f"XIEZUO_{name.upper()}"])
        if env.get("XIEZUO_SMTP_PORT"):
            config.smtp_port = int(env["XIEZUO_SMTP_PORT"])
        if env.get("XIEZUO_SMTP_STARTTLS"):
            config.smtp_starttls = env["XIEZUO_SMTP_STARTTLS"].lower() in ("1", "true", "yes")
        if env.get("XIEZUO_WEBHOOK_ANY_HOST"):
            config.webhook_any_host = env["XIEZUO_WEBHOOK_ANY_HOST"].lower() in ("1", "true", "yes")
        return config
