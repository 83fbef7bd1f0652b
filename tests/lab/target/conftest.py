"""Target processes on free ports with their own data dirs, and the inventory service they call."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lab.dependency.app import create_app as create_inventory
from lab.dependency.config import Settings as InventorySettings
from lab.runner.ports import free_port

from .target_testkit import ADMIN, HOOK, Target, assert_blind


@pytest.fixture(scope="session")
def inventory_url(session_servers) -> str:  # type: ignore[no-untyped-def]
    return str(session_servers.serve(create_inventory(InventorySettings(hook_token=HOOK))))


def _env(
    port: int, data_dir: Path, log_file: Path, dependency_url: str, overrides: dict[str, str]
) -> dict[str, str]:
    return {
        "TARGET_PORT": str(port),
        "TARGET_DATA_DIR": str(data_dir),
        "TARGET_LOG_FILE": str(log_file),
        "TARGET_ADMIN_TOKEN": ADMIN,
        "TARGET_HOOK_TOKEN": HOOK,
        "TARGET_DEPENDENCY_URL": dependency_url,
        "TARGET_METRICS_WINDOW_SECONDS": "3",
        "TARGET_POOL_TIMEOUT_SECONDS": "0.5",
        "TARGET_DB_BUSY_TIMEOUT_SECONDS": "0.5",
        "TARGET_DISK_QUOTA_BYTES": str(8 * 1024 * 1024),
        "TARGET_REAPER_INTERVAL_SECONDS": "0.2",
        **overrides,
    }


StartTarget = Callable[..., Target]


class TargetLauncher:
    """Starts `python -m lab.target` processes; closing scans each for words it must never show."""

    def __init__(self, servers, inventory_url: str, tmp_path_factory: pytest.TempPathFactory) -> None:  # type: ignore[no-untyped-def]
        self._servers, self._inventory_url, self._tmp = servers, inventory_url, tmp_path_factory
        self._started: list[Target] = []

    def start(self, data_dir: Path | None = None, **overrides: str) -> Target:
        data_dir = data_dir or self._tmp.mktemp("data")
        log_file = self._tmp.mktemp("logs") / "target.jsonl"
        port = free_port()
        dependency = overrides.pop("dependency_url", self._inventory_url)
        env = _env(port, data_dir, log_file, dependency, overrides)
        target = Target(
            self._servers.spawn("lab.target", env, port, "/api/v1/pool/status"), data_dir, log_file
        )
        self._started.append(target)
        return target

    def close(self) -> None:
        for target in self._started:
            assert_blind(target)
            target.close()


@pytest.fixture
def start_target(
    servers, inventory_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StartTarget]:  # type: ignore[no-untyped-def]
    """A target per call, for tests that break it."""
    launcher = TargetLauncher(servers, inventory_url, tmp_path_factory)
    yield launcher.start
    launcher.close()


@pytest.fixture(scope="module")
def start_module_target(
    session_servers, inventory_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StartTarget]:  # type: ignore[no-untyped-def]
    """Like `start_target`, for a module's own target (one that tests may fill with data)."""
    launcher = TargetLauncher(session_servers, inventory_url, tmp_path_factory)
    yield launcher.start
    launcher.close()


@pytest.fixture(scope="session")
def shared_target(
    session_servers, inventory_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:  # type: ignore[no-untyped-def]
    """One target for tests that leave no damage behind (shapes, validation, auth)."""
    launcher = TargetLauncher(session_servers, inventory_url, tmp_path_factory)
    yield launcher.start()
    launcher.close()
