"""A running target process seen from outside, and the blind-rule scan of everything it shows."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

ADMIN = "admin-tok-3141"
HOOK = "lever-tok-2718"
FORBIDDEN = re.compile(
    r"chaos|(?<!de)fault|attack|inject|hook|crash|db_pool|slow_queries|memory_leak|cpu_hog|bad_deploy"
    r"|dependency_outage|traffic_spike|disk_fill|" + ADMIN + "|" + HOOK,
    re.IGNORECASE,
)
PUBLIC_PATHS = (
    "/api/v1/health",
    "/api/v1/metrics",
    "/api/v1/pool/status",
    "/api/v1/logs?limit=2000",
    "/api/v1/orders",
    "/api/v1/orders/1",
    "/openapi.json",
    "/docs",
    "/redoc",
    "/nope",
)


class Target:
    def __init__(self, process: Any, data_dir: Path, log_file: Path) -> None:
        self.process = process
        self.url: str = process.url
        self.data_dir = data_dir
        self.log_file = log_file
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.post(path, **kwargs)

    def admin(self, path: str, body: Any = None, token: str = ADMIN) -> httpx.Response:
        return self.http.post(f"/admin/{path}", json=body, headers={"Authorization": f"Bearer {token}"})

    def lever(self, path: str, body: Any, token: str = HOOK) -> httpx.Response:
        return self.http.post(f"/_hooks/{path}", json=body, headers={"Authorization": f"Bearer {token}"})

    def metrics(self) -> dict[str, Any]:
        return self.get("/api/v1/metrics").json()  # type: ignore[no-any-return]

    def pool(self) -> dict[str, Any]:
        return self.get("/api/v1/pool/status").json()  # type: ignore[no-any-return]

    def health(self) -> dict[str, Any]:
        return self.get("/api/v1/health").json()  # type: ignore[no-any-return]

    def logs(self, level: str | None = None) -> list[dict[str, Any]]:
        params = {"limit": "2000", **({"level": level} if level else {})}
        return self.get("/api/v1/logs", params=params).json()["logs"]  # type: ignore[no-any-return]

    def order(self, item: str = "widget", quantity: int = 1) -> httpx.Response:
        return self.post("/api/v1/orders", json={"item": item, "quantity": quantity})

    def close(self) -> None:
        self.http.close()
        self.process.stop()


def assert_blind(target: Target) -> None:
    """Nothing the target shows publicly (bodies, headers, logs, stderr) names what was done to it."""
    shown: list[tuple[str, str]] = []
    if target.process.process.poll() is None:
        for path in PUBLIC_PATHS:
            response = target.get(path)
            shown.append((path, response.text))
            shown.append((path + " headers", str(dict(response.headers))))
    if target.log_file.exists():
        shown.append(("log file", target.log_file.read_text()))
    shown.append(("stderr", target.process.stderr_path.read_text()))
    for where, text in shown:
        match = FORBIDDEN.search(text)
        assert match is None, (
            f"{where} shows {match.group(0)!r}: ...{text[max(0, match.start() - 80) : match.end() + 80]}"
        )
