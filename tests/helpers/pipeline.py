"""What the end-to-end alerting tests share: an HTTP handler served from a thread, a webhook receiver,
processes that stop with the test, polling with a deadline, and reading a value from Prometheus."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from lab.runner.monitoring import MonitoringConfig


class QuietHandler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        return


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler], port: int) -> Iterator[None]:
    """`handler` answering on 127.0.0.1:`port` from a thread, until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


class WebhookReceiver:
    """What the agent would receive: every POST body and its Authorization header."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, str | None, dict[str, Any]]] = []
        self.lock = threading.Lock()

    @contextmanager
    def serve(self, port: int) -> Iterator[WebhookReceiver]:
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with receiver.lock:
                    receiver.posts.append((self.path, self.headers.get("Authorization"), body))
                self.send_response(200)
                self.end_headers()

        with serving(Handler, port):
            yield self

    def find(self, alertname: str, status: str) -> tuple[str, str | None, dict[str, Any]] | None:
        with self.lock:
            for path, auth, body in self.posts:
                for alert in body["alerts"]:
                    if alert["labels"].get("alertname") == alertname and alert["status"] == status:
                        return path, auth, body
        return None


@contextmanager
def process(
    argv: list[str], log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def wait_for(condition: Callable[[], Any], timeout: float, what: str, logs: list[Path]) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = condition()
        except httpx.HTTPError:
            result = None
        if result:
            return result
        time.sleep(0.2)
    tails = "\n".join(f"--- {log.name}\n{log.read_text()[-2000:]}" for log in logs if log.exists())
    pytest.fail(f"timed out after {timeout}s waiting for {what}\n{tails}")


def prometheus_value(cfg: MonitoringConfig, query: str) -> float | None:
    response = httpx.get(f"{cfg.prometheus_url}/api/v1/query", params={"query": query}, timeout=2)
    if response.status_code != 200:  # 503 until the TSDB is ready
        return None
    result = response.json()["data"]["result"]
    return float(result[0]["value"][1]) if result else None
