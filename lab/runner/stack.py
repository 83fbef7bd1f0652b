"""Starting and stopping the lab's processes in dependency order, each in its own process group.

`Stack(ports=Ports.free(), run_dir=tmp)` is what tests use; `python -m lab up` is the same with the
default ports. Every process writes stdout/stderr to `<run_dir>/logs/<name>.log`. Stopping sends
SIGTERM to each process (dependents first), SIGKILL to its whole group after a grace period, so
children it started (the target, a lock holder) never outlive the stack.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx
import psutil

from lab.process import die_with_parent
from lab.runner.components import ComponentSpec, LabPaths, lab_components
from lab.runner.monitoring import MonitoringConfig, duration_seconds, load_profile
from lab.runner.observability import PRODUCT, observability_components, render
from lab.runner.ports import Ports
from lab.runner.tokens import Tokens
from lab.service import open_private_log

ROOT = Path(__file__).resolve().parents[2]


class StackError(Exception):
    """A component did not come up; the message names it and ends with the tail of its log."""


class Stack:
    def __init__(
        self,
        ports: Ports | None = None,
        run_dir: Path = Path(".run"),
        profile: str = "lab",
        without: tuple[str, ...] | list[str] = (),
        env: dict[str, dict[str, str]] | None = None,
        stop_grace_seconds: float = 8.0,
        extra_webhooks: list[str] | None = None,
        llm: str | None = None,
        runbooks_url: str | None = None,
    ) -> None:
        """`env` adds variables per component name (tests shorten windows this way).

        `extra_webhooks` receive every Alertmanager notification the agent receives (the bench's baseline).
        `llm="local"` adds the llama.cpp server (`lab.runner.local_llm`) and points the agent at it;
        LocalLLMUnavailable when its extra is not installed. `runbooks_url`: the base of the alert rules'
        runbook links (default: the agent's own `/agent/runbooks`).
        """
        self.ports = ports or Ports()
        self.profile = profile
        self.paths = LabPaths.under(run_dir)
        self.tokens = Tokens.generate()
        self.token_files: dict[str, Path] = {}
        self.stop_grace_seconds = stop_grace_seconds
        self._extra_env = env or {}
        self._without = set(without)
        self.specs: list[ComponentSpec] = [
            spec
            for spec in lab_components(
                self.ports, self.paths, self.tokens, duration_seconds(load_profile(profile).windows.rate)
            )
            if spec.name not in self._without
        ]
        self.monitoring: MonitoringConfig | None = None
        if not set(PRODUCT) <= self._without:
            self.monitoring = render(
                profile,
                self.paths,
                self.ports,
                self.paths.run_dir / "tokens" / "webhook.token",
                extra_webhooks or [],
                runbooks_url=runbooks_url,
            )
            for spec in observability_components(
                self.monitoring, self.ports, self.paths, self.tokens, profile
            ):
                self.add(spec)
        self._after_healthy: dict[str, Callable[[], object]] = {}
        if llm is not None:
            self._add_llm(llm)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: dict[str, IO[bytes]] = {}

    def add(self, spec: ComponentSpec) -> None:
        """Adds a component (exporter, Prometheus, the agent...) before `start`."""
        if spec.name not in self._without:
            self.specs.append(spec)

    def _add_llm(self, llm: str) -> None:
        if llm != "local":
            raise ValueError(f"unknown llm {llm!r}: the lab runs only 'local'")
        from lab.runner.local_llm import agent_llm_env, llm_component, warm_up

        self.add(llm_component(self.ports.llm))
        self._after_healthy["llm"] = lambda: warm_up(self.ports.llm, ROOT / "runbooks")
        for spec in self.specs:
            if spec.name == "agent":
                spec.env = {**spec.env, **agent_llm_env(self.ports.llm)}
                spec.depends_on = [*spec.depends_on, "llm"]

    def agent_seconds(self, name: str, default: float) -> float:
        """A duration setting of the agent as this stack starts it (profile env, then `env` overrides)."""
        agent = next((spec for spec in self.specs if spec.name == "agent"), None)
        value = (agent.env if agent else {}).get(name, str(default))
        return float(self._extra_env.get("agent", {}).get(name, value))

    @property
    def verify_hold_seconds(self) -> float:
        """How long the agent holds a fix before calling it verified, as this stack configures it."""
        return self.agent_seconds("VERIFY_HOLD_SECONDS", 60.0)

    @property
    def urls(self) -> dict[str, str]:
        return {spec.name: spec.url for spec in self.specs if spec.url}

    @property
    def pids(self) -> dict[str, int]:
        pids = {name: process.pid for name, process in self.processes.items() if process.poll() is None}
        for name, pid_file in (
            ("target", self.paths.target_pid_file),
            ("worker", self.paths.worker_pid_file),
        ):
            with contextlib.suppress(OSError, ValueError):
                pids.setdefault(name, int(pid_file.read_text().strip()))
        return pids

    def log_file(self, name: str) -> Path:
        return self.paths.logs / f"{name}.log"

    def _ordered(self) -> list[ComponentSpec]:
        by_name = {spec.name: spec for spec in self.specs}
        ordered: list[ComponentSpec] = []
        visiting: set[str] = set()

        def visit(spec: ComponentSpec) -> None:
            if spec in ordered:
                return
            if spec.name in visiting:
                raise StackError(f"dependency cycle through {spec.name}")
            visiting.add(spec.name)
            for name in spec.depends_on:
                if name in by_name:
                    visit(by_name[name])
            ordered.append(spec)

        for spec in self.specs:
            visit(spec)
        return ordered

    def start(self) -> Stack:
        self.paths.logs.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.token_files = self.tokens.write(self.paths.run_dir / "tokens")
        try:
            for spec in self._ordered():
                if spec.argv is not None:
                    self._spawn(spec)
                self._wait_healthy(spec)
                if spec.name in self._after_healthy:
                    self._get_ready(spec.name)
        except BaseException:
            self.stop()
            raise
        return self

    def attach(self, run_dir: Path, timeout_seconds: float = 5.0) -> Stack:
        """Uses a stack that `python -m lab up` runs from `run_dir` instead of starting one: its tokens,
        and each component answering at this stack's URLs. `stop` then leaves it running."""
        tokens_dir = run_dir / "tokens"
        try:
            self.tokens = Tokens.read(tokens_dir)
        except (OSError, ValueError) as exc:
            hint = "is `python -m lab up` running there?"
            raise StackError(f"no lab tokens in {tokens_dir} ({hint}): {exc}") from exc
        self.token_files = {name: tokens_dir / f"{name}.token" for name in Tokens.model_fields}
        silent = []
        for spec in self._ordered():
            if spec.health_url is None:
                continue
            try:
                httpx.get(spec.health_url, timeout=timeout_seconds)
            except httpx.HTTPError:
                silent.append(f"{spec.name} ({spec.health_url})")
        if silent:
            raise StackError(f"the running lab does not answer: {', '.join(silent)}")
        return self

    def _spawn(self, spec: ComponentSpec) -> None:
        log = open_private_log(self.log_file(spec.name))
        self._logs[spec.name] = log
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **spec.env, **self._extra_env.get(spec.name, {})}
        self.processes[spec.name] = subprocess.Popen(
            spec.argv or [],
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )

    def _wait_healthy(self, spec: ComponentSpec) -> None:
        """Until the health URL answers at all (a degraded service is still up)."""
        if spec.health_url is None:
            return
        deadline = time.monotonic() + spec.startup_timeout_seconds
        process = self.processes.get(spec.name)
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise StackError(f"{spec.name} exited with {process.returncode}{self._tail(spec.name)}")
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(spec.health_url, timeout=1.0)
                return
            time.sleep(0.1)
        raise StackError(f"{spec.name} did not answer {spec.health_url} in time{self._tail(spec.name)}")

    def _get_ready(self, name: str) -> None:
        """What a component needs once it answers and before its dependents start (the LLM's warm-up)."""
        try:
            self._after_healthy[name]()
        except Exception as exc:  # any failure here is the component's: name it with its log
            reason = f"{type(exc).__name__}: {exc}"
            raise StackError(f"{name} did not get ready: {reason}{self._tail(name)}") from exc

    def _tail(self, name: str, lines: int = 15) -> str:
        try:
            text = self.log_file(name).read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "\n  " + "\n  ".join(text) if text else ""

    def all_pids(self) -> set[int]:
        """Every live process of the stack, the children the components started included."""
        found: set[int] = set()
        for process in self.processes.values():
            with contextlib.suppress(psutil.Error):
                parent = psutil.Process(process.pid)
                found.add(parent.pid)
                found.update(child.pid for child in parent.children(recursive=True))
        return found

    def stop(self) -> None:
        """Dependents first: SIGTERM, then SIGKILL to the whole process group after the grace period."""
        for spec in reversed(self._ordered()):
            process = self.processes.get(spec.name)
            if process is not None:
                _stop_group(process, self.stop_grace_seconds)
        self.processes.clear()
        for log in self._logs.values():
            log.close()
        self._logs.clear()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _stop_group(process: subprocess.Popen[bytes], grace: float) -> None:
    pgid = process.pid  # start_new_session: the process leads its own group
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(grace)
