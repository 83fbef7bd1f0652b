"""The exporter's one settings object (env prefix EXPORTER_); only `__main__` builds it."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EXPORTER_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 9102
    target_url: str = "http://127.0.0.1:8000"
    timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        description="budget for one scrape of the target; keep it under Prometheus's scrape_timeout",
    )
    log_level: str = "INFO"
