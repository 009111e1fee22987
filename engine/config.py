"""Engine configuration, passed in once by the caller (the engine never reads the environment)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class EngineConfig:
    database_url: str = "sqlite:///xiezuo.db"
    script_time_limit: float = 1.0
    workflow_cache_size: int = 256
    default_priority: int = 50
    fallback_group: str = "platform_admins"  # who gets a task whose assignment resolves to nobody
    clock: Callable[[], datetime] = field(default=system_clock)
    timezone: str = "Asia/Shanghai"  # local dates: working days, out-of-office ranges, request months
    echo_sql: bool = False
    attachment_max_bytes: int = 20 * 1024 * 1024  # larger uploads are refused before anything is stored
    attachment_dir: str | None = None  # attachments' bytes on disk under this folder; None: in the database
