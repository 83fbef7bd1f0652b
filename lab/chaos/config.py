"""Chaos server settings (env prefix CHAOS_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHAOS_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8080
    api_token: SecretStr = SecretStr("")
    hook_token: SecretStr = SecretStr("")
    target_url: str = "http://127.0.0.1:8000"
    dependency_url: str = "http://127.0.0.1:8001"
    loadgen_url: str = "http://127.0.0.1:8002"
    worker_url: str = "http://127.0.0.1:8010"
    target_db_path: Path = Path("data/target/orders.db")
    hook_timeout_seconds: float = 10.0
    lock_ready_timeout_seconds: float = 10.0
    history_size: int = 50
    log_level: str = "INFO"
