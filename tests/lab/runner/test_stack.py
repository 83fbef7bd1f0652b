"""The runner starts processes in dependency order, waits for health, and leaves nothing behind."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from lab.runner.components import ComponentSpec
from lab.runner.observability import PRODUCT
from lab.runner.ports import Ports, free_port
from lab.runner.stack import Stack, StackError

LAB = ["dependency", "action", "target", "worker-action", "worker", "loadgen", "chaos"]
# A parent that starts a child in its own group and ignores SIGTERM: only the group SIGKILL ends both.
STUBBORN = (
    "import signal, subprocess, sys, http.server;"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN);"
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']);"
    "http.server.test(HandlerClass=http.server.SimpleHTTPRequestHandler,"
    " port=int(sys.argv[1]), bind='127.0.0.1')"
)


def _http_spec(name: str, depends_on: list[str] | None = None, stubborn: bool = False) -> ComponentSpec:
    port = free_port()
    argv = [sys.executable, "-c", STUBBORN, str(port)] if stubborn else [
        sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    return ComponentSpec(name=name, argv=argv, url=url, health_url=f"{url}/", depends_on=depends_on or [])


def test_stack_starts_in_order_and_stops_every_process(tmp_path: Path) -> None:
    stack = Stack(ports=Ports.free(), run_dir=tmp_path, without=[*LAB, *PRODUCT], stop_grace_seconds=1)
    stack.add(_http_spec("web", depends_on=["db"]))
    stack.add(_http_spec("db", stubborn=True))
    with stack:
        assert list(stack.processes) == ["db", "web"]
        assert set(stack.urls) == {"web", "db"}
        pids = stack.all_pids()
        assert len(pids) == 3  # the stubborn one's child included
        assert all(psutil.pid_exists(pid) for pid in pids)
        assert stack.log_file("web").exists()
    _, alive = psutil.wait_procs([psutil.Process(p) for p in pids if psutil.pid_exists(p)], timeout=5)
    assert alive == []


def test_tokens_are_fresh_and_in_private_files(tmp_path: Path) -> None:
    with Stack(ports=Ports.free(), run_dir=tmp_path, without=[*LAB, *PRODUCT]) as stack:
        assert stack.tokens != Stack(run_dir=tmp_path, without=PRODUCT).tokens
        for name, path in stack.token_files.items():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            assert path.read_text() == getattr(stack.tokens, name)
        assert stat.S_IMODE((tmp_path / "tokens").stat().st_mode) == 0o700
        assert stack.tokens.hook not in repr(stack.tokens)


def test_attaching_uses_a_running_stack_and_leaves_it_running(tmp_path: Path) -> None:
    """What `lab bench --attach` does with a `lab up` stack: its tokens, its components, no stop."""
    web = _http_spec("web")
    running = Stack(ports=Ports.free(), run_dir=tmp_path / "up", without=[*LAB, *PRODUCT])
    running.add(web)
    with running:
        attached = Stack(ports=Ports.free(), run_dir=tmp_path / "bench", without=[*LAB, *PRODUCT])
        attached.add(web)
        assert attached.attach(tmp_path / "up") is attached
        assert attached.tokens == running.tokens
        assert attached.token_files["action"] == tmp_path / "up" / "tokens" / "action.token"
        attached.stop()
        assert running.processes["web"].poll() is None
        assert httpx.get(attached.urls["web"] + "/", timeout=5).status_code == 200


def test_attaching_without_a_running_stack_says_what_is_missing(tmp_path: Path) -> None:
    stack = Stack(ports=Ports.free(), run_dir=tmp_path / "bench", without=[*LAB, *PRODUCT])
    with pytest.raises(StackError, match=r"no lab tokens in .*lab up"):
        stack.attach(tmp_path / "nothing")
    stack.tokens.write(tmp_path / "stale" / "tokens")
    stack.add(_http_spec("web"))
    with pytest.raises(StackError, match=r"does not answer: web \(http://127\.0\.0\.1:\d+/\)"):
        stack.attach(tmp_path / "stale", timeout_seconds=1)


def test_bench_attach_to_nothing_exits_1_with_the_reason(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lab",
            "bench",
            "--attach",
            str(tmp_path / "none"),
            "--run-dir",
            str(tmp_path),
            "--out",
            str(tmp_path / "results"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "not usable" in done.stdout and "no lab tokens" in done.stdout
    assert "baseline is skipped" in done.stdout
    assert not (tmp_path / "results" / "runs.jsonl").exists()


def test_a_component_that_dies_fails_the_start_with_its_log(tmp_path: Path) -> None:
    stack = Stack(ports=Ports.free(), run_dir=tmp_path, without=[*LAB, *PRODUCT], stop_grace_seconds=1)
    first = _http_spec("first")
    stack.add(first)
    stack.add(
        ComponentSpec(
            name="broken",
            argv=[sys.executable, "-c", "import sys; print('cannot open the thing'); sys.exit(3)"],
            health_url=f"http://127.0.0.1:{free_port()}/",
            depends_on=["first"],
        )
    )
    with pytest.raises(StackError, match="broken exited with 3") as failure:
        stack.start()
    assert "cannot open the thing" in str(failure.value)
    assert stack.processes == {}
    assert stack.all_pids() == set()


def test_the_lab_components_are_wired_to_each_other(tmp_path: Path) -> None:
    ports = Ports.free()
    stack = Stack(ports=ports, run_dir=tmp_path, without=PRODUCT)
    specs = {spec.name: spec for spec in stack.specs}
    assert list(specs) == LAB
    assert specs["target"].argv is None
    action = specs["action"].env
    assert action["ACTION_SUPERVISE_TARGET"] == "true"
    assert action["TARGET_PORT"] == str(ports.target)
    assert action["TARGET_HOOK_TOKEN"] == specs["chaos"].env["CHAOS_HOOK_TOKEN"] == stack.tokens.hook
    assert action["ACTION_TARGET_ADMIN_TOKEN"] == action["TARGET_ADMIN_TOKEN"] == stack.tokens.admin
    assert specs["chaos"].env["CHAOS_TARGET_DB_PATH"] == action["ACTION_TARGET_DB_PATH"]
    assert specs["loadgen"].env["LOADGEN_TARGET_URL"] == stack.urls["target"]


def test_the_worker_runs_under_its_own_action_server(tmp_path: Path) -> None:
    ports = Ports.free()
    stack = Stack(ports=ports, run_dir=tmp_path, without=PRODUCT)
    specs = {spec.name: spec for spec in stack.specs}
    assert specs["worker"].argv is None and specs["worker"].depends_on == ["worker-action"]
    assert specs["worker"].health_url == f"http://127.0.0.1:{ports.worker}/healthz"
    action = specs["worker-action"].env
    assert action["ACTION_SERVICE"] == "worker" and action["ACTION_SUPERVISE_TARGET"] == "true"
    assert action["ACTION_PORT"] == str(ports.worker_action) and action["WORKER_PORT"] == str(ports.worker)
    assert action["ACTION_TARGET_URL"] == stack.urls["worker"]
    assert action["ACTION_TOKEN"] == specs["action"].env["ACTION_TOKEN"] == stack.tokens.action
    assert action["ACTION_TARGET_ADMIN_TOKEN"] == action["WORKER_ADMIN_TOKEN"] == stack.tokens.admin
    assert action["WORKER_HOOK_TOKEN"] == stack.tokens.hook
    assert action["ACTION_DATA_DIR"] != specs["action"].env["ACTION_DATA_DIR"]
    assert action["ACTION_TARGET_PID_FILE"] == str(stack.paths.worker_pid_file)
    assert (
        specs["loadgen"].env["LOADGEN_WORKER_URL"]
        == specs["chaos"].env["CHAOS_WORKER_URL"]
        == stack.urls["worker"]
    )
    assert Ports().worker == 8010 and Ports().worker_action == 9010


def test_the_local_llm_is_a_component_the_agent_is_pointed_at(tmp_path: Path) -> None:
    from lab.runner import local_llm

    ports = Ports.free()
    spec = local_llm.llm_component(ports.llm, model=tmp_path / "model.gguf")
    assert spec.argv is not None and spec.argv[1:3] == ["-m", "llama_cpp.server"]
    flags = dict(zip(spec.argv[3::2], spec.argv[4::2], strict=True))
    assert flags["--model"] == str(tmp_path / "model.gguf") and flags["--port"] == str(ports.llm)
    assert int(flags["--n_ctx"]) == local_llm.N_CTX and flags["--n_threads"] == str(local_llm.N_THREADS)
    # at most a token a character (ASCII prompt, byte-level BPE): the longest prompt and answer fit
    from agent.diagnosis.llm import SYSTEM_PROMPT

    longest = local_llm.MAX_PROMPT_CHARS + len(SYSTEM_PROMPT) + 128  # 128: the chat template's tokens
    assert longest + local_llm.ANSWER_TOKENS <= local_llm.N_CTX
    assert spec.health_url == f"http://127.0.0.1:{ports.llm}/v1/models"
    env = local_llm.agent_llm_env(ports.llm)
    assert env["LLM_MODEL"] == f"openai/{local_llm.MODEL_ALIAS}" == f"openai/{flags['--model_alias']}"
    assert env["LLM_API_BASE"] == f"{spec.url}/v1" and env["LLM_RESPONSE_FORMAT"] == "json_object"
    with pytest.raises(ValueError, match="only 'local'"):
        Stack(ports=ports, run_dir=tmp_path, llm="hosted")
    try:
        stack = Stack(ports=ports, run_dir=tmp_path, llm="local")
    except local_llm.LocalLLMUnavailable as exc:
        assert "scripts/install-local-llm" in str(exc)
        return
    specs = {s.name: s for s in stack.specs}
    assert "llm" in specs["agent"].depends_on and specs["agent"].env["LLM_API_BASE"] == env["LLM_API_BASE"]
    assert stack.log_file("llm") == tmp_path.resolve() / "logs" / "llm.log"


def test_the_agents_links_and_the_rules_runbook_links_open_where_they_are_served(tmp_path: Path) -> None:
    ports = Ports.free()
    stack = Stack(ports=ports, run_dir=tmp_path / "own")
    agent = next(spec for spec in stack.specs if spec.name == "agent")
    assert stack.monitoring is not None
    assert agent.env["EXTERNAL_URL"] == stack.monitoring.links.agent == f"http://127.0.0.1:{ports.agent}"
    rules = stack.monitoring.rules_files[0].read_text()
    assert f"runbook_url: http://127.0.0.1:{ports.agent}/agent/runbooks/service-down.md" in rules
    elsewhere = Stack(ports=ports, run_dir=tmp_path / "wiki", runbooks_url="https://wiki.example.com/rb/")
    assert elsewhere.monitoring is not None
    assert elsewhere.monitoring.links.agent == f"http://127.0.0.1:{ports.agent}"
    assert (
        "runbook_url: https://wiki.example.com/rb/service-down.md"
        in elsewhere.monitoring.rules_files[0].read_text()
    )


@pytest.mark.parametrize("argv", [[], ["nonsense"], ["up", "--profile", "staging"]])
def test_cli_usage_errors_exit_2(argv: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "lab", *argv], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "usage" in done.stderr


@pytest.mark.parametrize(
    "argv",
    [[], ["bogus"], ["bench", "--runs", "many"], ["demo", "--profile", "staging"], ["up", "--without", "x"]],
)
def test_cli_bad_arguments_exit_2_with_usage(argv: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "lab", *argv], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "usage:" in done.stderr


def test_lab_up_prints_where_things_listen_and_stops_on_sigterm(tmp_path: Path) -> None:
    """`lab up` with every lab component left out: the CLI's own start, table and signal handling."""
    without = [arg for name in LAB for arg in ("--without", name)]
    process = subprocess.Popen(
        [sys.executable, "-m", "lab", "up", "--run-dir", str(tmp_path), *without],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "Ctrl-C" in line:
            break
    process.send_signal(signal.SIGTERM)
    assert process.wait(15) == 0
    output = "".join(lines) + process.stdout.read()
    assert "component" in output and "stopping" in output
    assert (tmp_path / "tokens" / "action.token").exists()


def test_the_lab_starts_and_stops_without_leftovers(tmp_path: Path) -> None:
    """The real lab: the action server's supervised target (a grandchild) goes down with it."""
    with Stack(ports=Ports.free(), run_dir=tmp_path, stop_grace_seconds=5, without=PRODUCT) as stack:
        pids = stack.all_pids()
        target_pid, worker_pid = stack.pids["target"], stack.pids["worker"]
        assert target_pid in pids and worker_pid in pids and len(pids) >= 7
        assert httpx.get(f"{stack.urls['worker']}/metrics", timeout=5).status_code == 200
        answer = httpx.get(f"{stack.urls['target']}/api/v1/health", timeout=5)
        assert answer.json()["status"] in ("healthy", "degraded", "unhealthy")
        status = httpx.get(f"{stack.urls['action']}/action/verify-target-health", timeout=5)
        assert status.status_code == 401
    _, alive = psutil.wait_procs([psutil.Process(p) for p in pids if psutil.pid_exists(p)], timeout=5)
    assert alive == []
    for name in ("dependency", "action", "worker-action", "loadgen", "chaos"):
        assert stack.log_file(name).exists()
    # Databases, logs, audit and pid files, tokens: the owner's only, though this test's umask is 022.
    written = {path: path.stat().st_mode for path in tmp_path.rglob("*")}
    assert tmp_path / "data" / "target" / "orders.db" in written and stack.log_file("target") in written
    wrong = {
        str(path.relative_to(tmp_path)): oct(mode & 0o777)
        for path, mode in written.items()
        if mode & 0o777 != (0o700 if stat.S_ISDIR(mode) else 0o600)
    }
    assert wrong == {}


RUNNER_THAT_GETS_KILLED = """
import sys, time
from pathlib import Path
from lab.runner.components import ComponentSpec
from lab.runner.observability import PRODUCT
from lab.runner.ports import Ports
from lab.runner.stack import Stack
LAB = ["dependency", "action", "target", "worker-action", "worker", "loadgen", "chaos"]
port = int(sys.argv[2])
stack = Stack(ports=Ports.free(), run_dir=Path(sys.argv[1]), without=[*LAB, *PRODUCT])
argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
stack.add(ComponentSpec(name="web", argv=argv, health_url=f"http://127.0.0.1:{port}/"))
stack.start()
print(stack.processes["web"].pid, flush=True)
time.sleep(600)
"""


def test_components_die_when_the_runner_is_killed(tmp_path: Path) -> None:
    """SIGKILL gives the runner no chance to stop anything: the kernel (PR_SET_PDEATHSIG) does it."""
    runner = subprocess.Popen(
        [sys.executable, "-c", RUNNER_THAT_GETS_KILLED, str(tmp_path), str(free_port())],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert runner.stdout is not None
    child = int(runner.stdout.readline())
    assert psutil.pid_exists(child)
    runner.kill()
    runner.wait(10)
    _, alive = psutil.wait_procs([psutil.Process(child)], timeout=10)
    assert not alive
