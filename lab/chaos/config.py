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
    allow_unauthenticated: bool = False  # development only: start with api_token empty, every route open
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

    def refusal(self) -> str | None:
        """Why the server must not start as configured (an empty token without the development switch)."""
        if self.api_token.get_secret_value() or self.allow_unauthenticated:
            return None
        return (
            "refusing to start: CHAOS_API_TOKEN is empty, so anyone who can reach the port could inject "
            "faults. Set it, or CHAOS_ALLOW_UNAUTHENTICATED=true on a development machine"
        )
