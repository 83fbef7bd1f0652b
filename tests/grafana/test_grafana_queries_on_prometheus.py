"""Every dashboard query parses and evaluates on a real Prometheus (empty TSDB): no typos reach Grafana."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from lab.runner.ports import free_port

from ..helpers.binaries import require_binary
from ..helpers.dashboard_queries import DASHBOARDS, dashboard_queries
from ..helpers.pipeline import process, wait_for

pytestmark = pytest.mark.timeout(60)
QUERIES = [(path.name, title, expr) for path in DASHBOARDS for title, expr in dashboard_queries(path)]


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = require_binary("prometheus")
    run = tmp_path_factory.mktemp("prometheus")
    config = run / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 15s\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={run / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    log = run / "prometheus.log"
    with process(argv, log):
        wait_for(lambda: httpx.get(f"{url}/-/ready", timeout=1).status_code == 200, 20, "prometheus", [log])
        yield url


@pytest.mark.parametrize(("board", "title", "expr"), QUERIES, ids=[f"{b}:{t}" for b, t, _ in QUERIES])
def test_query_evaluates(prometheus_url: str, board: str, title: str, expr: str) -> None:
    response = httpx.get(f"{prometheus_url}/api/v1/query", params={"query": expr}, timeout=5)
    body = response.json()
    assert body["status"] == "success", f"{board} / {title}: {body.get('error')}\n{expr}"


def test_there_are_queries_to_check() -> None:
    assert len(QUERIES) > 30
    assert Path(DASHBOARDS[0]).is_file()
