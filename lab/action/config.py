"""Action server settings (env prefix ACTION_).

ACTION_SERVICE picks what this instance acts on: the orders API (`target`, the default) or the queue
worker (`worker`): its catalog, the process it supervises and its health verdict. The `target_*`
settings (URL, admin token, command, pid and output files, container) then name that service.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

RestartMode = Literal["supervise", "docker", "none"]
Service = Literal["target", "worker"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ACTION_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 9000
    token: SecretStr = SecretStr("")
    service: Service = "target"
    target_url: str = "http://127.0.0.1:8000"
    target_admin_token: SecretStr = SecretStr("")
    target_db_path: Path = Path("data/target/orders.db")
    data_dir: Path = Path("data/action")
    request_timeout_seconds: float = 10.0

    # How restart-target reaches the target. Unset: `supervise` if supervise_target (the native
    # runner's older switch, still honoured), else `none`.
    restart_mode: RestartMode | None = None
    supervise_target: bool = False
    target_command: str = ""  # default: `<this python> -m lab.target` (`lab.worker` for the worker)
    target_env_file: Path | None = None
    target_output_file: Path | None = None  # the target's stdout/stderr; default: inherit
    target_pid_file: Path | None = None  # default: <data_dir>/<service>.pid
    target_container: str = "sre-target"  # docker mode: the container's name (or id)
    docker_socket: Path = Path("/var/run/docker.sock")  # docker mode: the Engine API's unix socket
    # SIGTERM → SIGKILL grace, for the supervised process and as the Engine API's restart `t`.
    stop_grace_seconds: float = 5.0
    restart_deadline_seconds: float = 20.0
    log_level: str = "INFO"

    # The worker's health verdict (lab/action/worker_client.py says how they are used).
    worker_max_head_attempts: int = Field(default=3, ge=1)
    worker_max_message_age_seconds: float = Field(default=30.0, gt=0)
    worker_max_backlog_growth_per_second: float = Field(default=5.0, gt=0)
    worker_max_rss_bytes: int = Field(default=512 * 1024 * 1024, gt=0)
    worker_sample_seconds: float = Field(default=1.0, gt=0, le=30)

    @model_validator(mode="after")
    def _one_restart_mode(self) -> Settings:
        if self.supervise_target and self.restart_mode not in (None, "supervise"):
            raise ValueError(
                f"ACTION_SUPERVISE_TARGET=true contradicts ACTION_RESTART_MODE={self.restart_mode}"
            )
        return self

    def refusal(self) -> str | None:
        """Why the server must not start as configured: without a token every /action route answers 401."""
        if self.token.get_secret_value():
            return None
        return "refusing to start: ACTION_TOKEN is empty, so every /action route would answer 401. Set it"

    def resolved_restart_mode(self) -> RestartMode:
        if self.restart_mode is not None:
            return self.restart_mode
        return "supervise" if self.supervise_target else "none"

    def pid_file(self) -> Path:
        return self.target_pid_file or self.data_dir / f"{self.service}.pid"
