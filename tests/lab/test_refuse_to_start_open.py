"""The lab's chaos and action servers refuse to start without their token: the chaos server would inject
faults for anyone (unless CHAOS_ALLOW_UNAUTHENTICATED says so), the action server would answer 401 to all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab.action.config import Settings as ActionSettings
from lab.chaos.config import Settings as ChaosSettings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("module", "env", "reason"),
    [
        ("lab.chaos", {"CHAOS_API_TOKEN": ""}, "refusing to start: CHAOS_API_TOKEN is empty"),
        ("lab.action", {"ACTION_TOKEN": ""}, "refusing to start: ACTION_TOKEN is empty"),
    ],
)
def test_the_process_exits_non_zero_with_the_reason(
    tmp_path: Path, module: str, env: dict[str, str], reason: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", module],
        cwd=ROOT,
        env={**os.environ, **env, "CHAOS_PORT": "9", "ACTION_PORT": "9"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and reason in done.stderr, done.stderr


def test_the_development_switch_and_a_token_let_them_start() -> None:
    assert ChaosSettings(api_token="t").refusal() is None  # type: ignore[arg-type]
    assert ChaosSettings(allow_unauthenticated=True).refusal() is None
    assert "CHAOS_ALLOW_UNAUTHENTICATED=true" in str(ChaosSettings().refusal())
    assert ActionSettings(token="t").refusal() is None  # type: ignore[arg-type]
