"""Inventory service settings (env prefix DEPENDENCY_)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEPENDENCY_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8001
    hook_token: SecretStr = SecretStr("")
    latency_seconds: float = Field(default=0.0, ge=0, le=600)
    log_level: str = "INFO"
