"""Target settings (env prefix TARGET_): one object, read once in `__main__`, passed everywhere else."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TARGET_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("data/target")
    log_file: Path = Path("data/logs/target.jsonl")
    log_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    log_buffer_lines: int = Field(default=2000, gt=0)
    log_level: str = "INFO"
    admin_token: SecretStr = SecretStr("")
    hook_token: SecretStr = SecretStr("")

    pool_size: int = Field(default=5, ge=1)
    pool_max_overflow: int = Field(default=5, ge=0)
    pool_timeout_seconds: float = Field(default=2.0, gt=0)
    db_busy_timeout_seconds: float = Field(default=2.0, ge=0)
    db_probe_timeout_seconds: float = Field(default=0.5, gt=0)
    reaper_interval_seconds: float = Field(default=0.5, gt=0)

    dependency_url: str = "http://127.0.0.1:8001"
    dependency_timeout_seconds: float = Field(default=1.0, gt=0)
    dependency_default_stock: int = 100

    disk_quota_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    disk_scan_interval_seconds: float = Field(default=5.0, gt=0)
    metrics_window_seconds: float = Field(default=60.0, gt=0)
    initial_release: str = "2026.11.3"
    memory_retain_cap_bytes: int = Field(default=1536 * 1024 * 1024, ge=0)
    rate_limit_rps: float | None = Field(default=None, gt=0)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "orders.db"
