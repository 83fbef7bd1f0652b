"""The action server's restart mode: ACTION_RESTART_MODE, with the older ACTION_SUPERVISE_TARGET honoured."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from lab.action.config import Settings


@pytest.mark.parametrize(
    ("env", "mode"),
    [
        ({}, "none"),
        ({"ACTION_SUPERVISE_TARGET": "true"}, "supervise"),  # what lab/runner sets
        ({"ACTION_SUPERVISE_TARGET": "false", "ACTION_RESTART_MODE": "docker"}, "docker"),  # compose
        ({"ACTION_RESTART_MODE": "supervise"}, "supervise"),
        ({"ACTION_SUPERVISE_TARGET": "true", "ACTION_RESTART_MODE": "supervise"}, "supervise"),
    ],
)
def test_restart_mode_from_the_env(tmp_path: Path, env: dict[str, str], mode: str) -> None:
    env_file = tmp_path / "action.env"  # read like the process env, without changing ours
    env_file.write_text("".join(f"{key}={value}\n" for key, value in env.items()))
    assert Settings(_env_file=env_file).resolved_restart_mode() == mode  # type: ignore[call-arg]


def test_contradicting_switches_are_refused() -> None:
    with pytest.raises(ValidationError, match="contradicts ACTION_RESTART_MODE=docker"):
        Settings(supervise_target=True, restart_mode="docker")
    with pytest.raises(ValidationError):
        Settings(restart_mode="kubernetes")  # type: ignore[arg-type]


def test_docker_defaults_match_compose() -> None:
    settings = Settings()
    assert settings.target_container == "sre-target"
    assert str(settings.docker_socket) == "/var/run/docker.sock"
