"""Worker settings (env prefix WORKER_): one object, read once in `__main__`, passed everywhere else."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

MAX_CONSUMERS = 16


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WORKER_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8010
    data_dir: Path = Path("data/worker")
    log_level: str = "INFO"
    admin_token: SecretStr = SecretStr("")
    hook_token: SecretStr = SecretStr("")

    consumers: int = Field(default=2, ge=1, le=MAX_CONSUMERS)
    partitions: int = Field(default=8, ge=1, le=256)
    job_seconds: float = Field(default=0.1, ge=0, le=60, description="the work each job does")
    retry_backoff_seconds: float = Field(default=0.2, ge=0, le=600)
    poll_seconds: float = Field(default=0.05, gt=0, le=5, description="an idle consumer looks again after")
    done_retention_seconds: float = Field(default=60.0, ge=0, description="done jobs are pruned after")
    prune_interval_seconds: float = Field(default=5.0, gt=0)
    max_body_bytes: int = Field(default=16 * 1024, ge=256)
    memory_bytes_per_job: int = Field(default=512 * 1024, ge=1, le=64 * 1024 * 1024)
    memory_retain_cap_bytes: int = Field(default=1024 * 1024 * 1024, ge=0)

    @property
    def queue_path(self) -> Path:
        return self.data_dir / "queue.db"
