"""Load generator settings (env prefix LOADGEN_)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOADGEN_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8002
    target_url: str = "http://127.0.0.1:8000"
    rate_rps: float = Field(default=10.0, ge=0, le=10_000)
    read_ratio: float = Field(default=0.7, ge=0, le=1)
    max_in_flight: int = Field(default=100, ge=1)
    request_timeout_seconds: float = Field(default=2.0, gt=0)
    worker_url: str = ""  # the queue worker; empty: no jobs are sent
    jobs_rps: float = Field(default=8.0, ge=0, le=10_000)
    hook_token: SecretStr = SecretStr("")
    log_level: str = "INFO"
