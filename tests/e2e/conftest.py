"""One real lab per test module, started through the runner on free ports in a temporary run directory."""

from __future__ import annotations

from collections.abc import Iterator

import psutil
import pytest

from lab.runner.observability import PRODUCT
from lab.runner.ports import Ports
from lab.runner.stack import Stack

from .lab_driver import FAST_LAB_ENV, LabDriver


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabDriver]:
    stack = Stack(
        ports=Ports.free(), run_dir=tmp_path_factory.mktemp("lab"), env=FAST_LAB_ENV, without=PRODUCT
    )
    with stack:
        driver = LabDriver(stack)
        try:
            yield driver
        finally:
            driver.http.close()
            pids = stack.all_pids()
    _, alive = psutil.wait_procs([psutil.Process(p) for p in pids if psutil.pid_exists(p)], timeout=5)
    assert alive == [], f"left behind: {alive}"
