"""The native lab as component specs: dependency, action server (which runs the target), the worker's
action server (which runs the queue worker), loadgen, chaos.

Each spec's env is everything that process needs; the lead adds the exporter, Prometheus, Alertmanager
and the agent as more specs with `Stack.add`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic import BaseModel

from lab.runner.ports import Ports
from lab.runner.tokens import Tokens

HOST = "127.0.0.1"


class ComponentSpec(BaseModel):
    """One process of the stack. `argv=None`: another component starts it; the stack only waits for it."""

    name: str
    argv: list[str] | None
    env: dict[str, str] = {}
    url: str | None = None
    health_url: str | None = None
    depends_on: list[str] = []
    startup_timeout_seconds: float = 30.0


class LabPaths(BaseModel):
    run_dir: Path
    logs: Path
    target_data: Path
    target_db: Path
    target_log_file: Path
    action_data: Path
    target_pid_file: Path
    worker_data: Path
    worker_action_data: Path
    worker_pid_file: Path

    @classmethod
    def under(cls, run_dir: Path) -> LabPaths:
        run_dir = run_dir.resolve()
        return cls(
            run_dir=run_dir,
            logs=run_dir / "logs",
            target_data=run_dir / "data" / "target",
            target_db=run_dir / "data" / "target" / "orders.db",
            target_log_file=run_dir / "logs" / "target-app.jsonl",
            action_data=run_dir / "data" / "action",
            target_pid_file=run_dir / "data" / "action" / "target.pid",
            worker_data=run_dir / "data" / "worker",
            worker_action_data=run_dir / "data" / "worker-action",
            worker_pid_file=run_dir / "data" / "worker-action" / "worker.pid",
        )


def _url(port: int) -> str:
    return f"http://{HOST}:{port}"


def _module(name: str) -> list[str]:
    return [sys.executable, "-m", name]


def worker_components(ports: Ports, paths: LabPaths, tokens: Tokens) -> list[ComponentSpec]:
    """The queue worker, started and supervised by the second instance of the action server."""
    worker, action = _url(ports.worker), _url(ports.worker_action)
    worker_env = {
        "WORKER_HOST": HOST,
        "WORKER_PORT": str(ports.worker),
        "WORKER_DATA_DIR": str(paths.worker_data),
        "WORKER_ADMIN_TOKEN": tokens.admin,
        "WORKER_HOOK_TOKEN": tokens.hook,
    }
    return [
        ComponentSpec(
            name="worker-action",
            argv=_module("lab.action"),
            env={
                **worker_env,
                "ACTION_SERVICE": "worker",
                "ACTION_HOST": HOST,
                "ACTION_PORT": str(ports.worker_action),
                "ACTION_TOKEN": tokens.action,
                "ACTION_TARGET_URL": worker,
                "ACTION_TARGET_ADMIN_TOKEN": tokens.admin,
                "ACTION_DATA_DIR": str(paths.worker_action_data),
                "ACTION_SUPERVISE_TARGET": "true",
                "ACTION_TARGET_OUTPUT_FILE": str(paths.logs / "worker.log"),
                "ACTION_TARGET_PID_FILE": str(paths.worker_pid_file),
            },
            url=action,
            health_url=f"{action}/health",
        ),
        ComponentSpec(
            name="worker", argv=None, url=worker, health_url=f"{worker}/healthz", depends_on=["worker-action"]
        ),
    ]


def lab_components(
    ports: Ports, paths: LabPaths, tokens: Tokens, metrics_window_seconds: float = 10.0
) -> list[ComponentSpec]:
    """`metrics_window_seconds`: the target's windowed values (error rate, p95), the monitoring profile's
    rate window: what its health checks and the alerts see reflect the same recent past."""
    target, dependency, loadgen = _url(ports.target), _url(ports.dependency), _url(ports.loadgen)
    worker = _url(ports.worker)
    target_env = {
        "TARGET_HOST": HOST,
        "TARGET_PORT": str(ports.target),
        "TARGET_DATA_DIR": str(paths.target_data),
        "TARGET_LOG_FILE": str(paths.target_log_file),
        "TARGET_ADMIN_TOKEN": tokens.admin,
        "TARGET_HOOK_TOKEN": tokens.hook,
        "TARGET_DEPENDENCY_URL": dependency,
        "TARGET_METRICS_WINDOW_SECONDS": f"{metrics_window_seconds:g}",
    }
    return [
        ComponentSpec(
            name="dependency",
            argv=_module("lab.dependency"),
            env={
                "DEPENDENCY_HOST": HOST,
                "DEPENDENCY_PORT": str(ports.dependency),
                "DEPENDENCY_HOOK_TOKEN": tokens.hook,
            },
            url=dependency,
            health_url=f"{dependency}/health",
        ),
        ComponentSpec(
            name="action",
            argv=_module("lab.action"),
            env={
                **target_env,
                "ACTION_HOST": HOST,
                "ACTION_PORT": str(ports.action),
                "ACTION_TOKEN": tokens.action,
                "ACTION_TARGET_URL": target,
                "ACTION_TARGET_ADMIN_TOKEN": tokens.admin,
                "ACTION_TARGET_DB_PATH": str(paths.target_db),
                "ACTION_DATA_DIR": str(paths.action_data),
                "ACTION_SUPERVISE_TARGET": "true",
                "ACTION_TARGET_OUTPUT_FILE": str(paths.logs / "target.log"),
                "ACTION_TARGET_PID_FILE": str(paths.target_pid_file),
            },
            url=_url(ports.action),
            health_url=f"{_url(ports.action)}/health",
            depends_on=["dependency"],
        ),
        ComponentSpec(
            name="target",
            argv=None,
            url=target,
            health_url=f"{target}/api/v1/health",
            depends_on=["action"],
        ),
        *worker_components(ports, paths, tokens),
        ComponentSpec(
            name="loadgen",
            argv=_module("lab.loadgen"),
            env={
                "LOADGEN_HOST": HOST,
                "LOADGEN_PORT": str(ports.loadgen),
                "LOADGEN_TARGET_URL": target,
                "LOADGEN_WORKER_URL": worker,
                "LOADGEN_HOOK_TOKEN": tokens.hook,
            },
            url=loadgen,
            health_url=f"{loadgen}/status",
            depends_on=["target", "worker"],
        ),
        ComponentSpec(
            name="chaos",
            argv=_module("lab.chaos"),
            env={
                "CHAOS_HOST": HOST,
                "CHAOS_PORT": str(ports.chaos),
                "CHAOS_API_TOKEN": tokens.chaos,
                "CHAOS_HOOK_TOKEN": tokens.hook,
                "CHAOS_TARGET_URL": target,
                "CHAOS_DEPENDENCY_URL": dependency,
                "CHAOS_LOADGEN_URL": loadgen,
                "CHAOS_WORKER_URL": worker,
                "CHAOS_TARGET_DB_PATH": str(paths.target_db),
            },
            url=_url(ports.chaos),
            health_url=f"{_url(ports.chaos)}/health",
            depends_on=["target", "dependency", "loadgen", "worker"],
        ),
    ]
