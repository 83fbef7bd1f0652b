"""Action server settings (env prefix ACTION_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ACTION_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 9000
    token: SecretStr = SecretStr("")
    target_url: str = "http://127.0.0.1:8000"
    target_admin_token: SecretStr = SecretStr("")
    target_db_path: Path = Path("data/target/orders.db")
    data_dir: Path = Path("data/action")
    request_timeout_seconds: float = 10.0

    supervise_target: bool = False
    target_command: str = ""  # default: `<this python> -m lab.target`
    target_env_file: Path | None = None
    target_output_file: Path | None = None  # the target's stdout/stderr; default: inherit
    target_pid_file: Path | None = None  # default: <data_dir>/target.pid
    stop_grace_seconds: float = 5.0
    restart_deadline_seconds: float = 20.0
    log_level: str = "INFO"

    def pid_file(self) -> Path:
        return self.target_pid_file or self.data_dir / "target.pid"
