"""docker-compose.yml: valid for docker-compose, healthy-checked, on the lab's ports, mounting real files.

No Docker engine runs here: these check the file, not containers (`docker-compose config` needs none).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.action.config import Settings as ActionSettings
from lab.runner.ports import Ports

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
# compose service -> Ports field; each listens on that port in its container and publishes it as is.
PORT_OF = {
    "target": "target",
    "target-dependency": "dependency",
    "loadgen": "loadgen",
    "chaos": "chaos",
    "action": "action",
    "agent": "agent",
    "exporter": "exporter",
    "worker": "worker",
    "prometheus": "prometheus",
    "alertmanager": "alertmanager",
}
PORT_ENV = {
    "target": "TARGET_PORT",
    "target-dependency": "DEPENDENCY_PORT",
    "loadgen": "LOADGEN_PORT",
    "chaos": "CHAOS_PORT",
    "action": "ACTION_PORT",
    "agent": "PORT",
    "exporter": "EXPORTER_PORT",
    "worker": "WORKER_PORT",
}
NO_HEALTHCHECK_BECAUSE: dict[str, str] = {}  # every service has one today


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def docker_compose() -> str:
    found = shutil.which("docker-compose")
    if found is None:
        pytest.skip("docker-compose not on PATH (Debian's package; run scripts/install-system-deps)")
    return found


def run_config(env_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [docker_compose(), "-f", str(COMPOSE), "--env-file", str(env_file), "config", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )


def test_docker_compose_validates_the_file_with_the_example_env() -> None:
    done = run_config(ROOT / ".env.example")
    assert done.returncode == 0, done.stderr


def test_required_tokens_must_be_set(tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    done = run_config(empty)
    assert done.returncode != 0
    assert "in .env" in done.stderr


@pytest.mark.parametrize("name", ["CHAOS_API_TOKEN", "API_TOKEN", "WEBHOOK_TOKEN"])
def test_no_token_defaults_to_empty(tmp_path: Path, name: str) -> None:
    """An empty token would start its service open (or not at all): compose refuses first."""
    example = (ROOT / ".env.example").read_text()
    env = tmp_path / "open.env"
    env.write_text(re.sub(rf"^{name}=.*$", f"{name}=", example, flags=re.MULTILINE))
    done = run_config(env)
    assert done.returncode != 0 and f"set {name} in .env" in done.stderr


def test_make_env_writes_fresh_private_tokens_that_compose_accepts(tmp_path: Path) -> None:
    out = tmp_path / ".env"
    make_env = [sys.executable, str(ROOT / "deploy" / "compose" / "make_env.py"), "--out", str(out)]
    assert subprocess.run(make_env, capture_output=True, timeout=30).returncode == 0
    assert out.stat().st_mode & 0o777 == 0o600
    values = dict(
        line.split("=", 1) for line in out.read_text().splitlines() if "=" in line and line[0] != "#"
    )
    assert not [name for name, value in values.items() if value.startswith("change-me")]
    assert len(values["API_TOKEN"]) >= 40 and values["API_TOKEN"] != values["WEBHOOK_TOKEN"]
    assert run_config(out).returncode == 0
    again = subprocess.run(make_env, capture_output=True, text=True, timeout=30)
    assert again.returncode == 1 and "exists" in again.stderr


def test_the_brief_services_are_there(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {*PORT_OF, "grafana", "weaviate"}


def test_every_service_has_a_healthcheck_or_a_reason(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        check = service.get("healthcheck")
        assert (check and check.get("test")) or NO_HEALTHCHECK_BECAUSE.get(name), name


def test_ports_match_the_native_lab(compose: dict[str, Any]) -> None:
    defaults = Ports()
    for name, field in PORT_OF.items():
        port = getattr(defaults, field)
        service = compose["services"][name]
        assert service["ports"] == [f"127.0.0.1:{port}:{port}"], name
        if name in PORT_ENV:
            assert service["environment"][PORT_ENV[name]] == str(port), name
    assert compose["services"]["grafana"]["ports"] == ["127.0.0.1:3000:3000"]
    # Weaviate's 8080 would clash with the chaos server's on the host: it stays inside the network.
    assert "ports" not in compose["services"]["weaviate"]


def test_service_urls_use_the_lab_ports(compose: dict[str, Any]) -> None:
    defaults = Ports()
    text = COMPOSE.read_text()
    for name, field in PORT_OF.items():
        for line in text.splitlines():
            if f"http://{name}:" in line:
                assert f"http://{name}:{getattr(defaults, field)}" in line, line.strip()


def test_every_mounted_path_exists_in_the_repo(compose: dict[str, Any]) -> None:
    named = set(compose["volumes"])
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name}: {source}"
            elif source.startswith("/"):
                assert source == "/var/run/docker.sock", f"{name}: unexpected host path {source}"
            else:
                assert source in named, f"{name}: volume {source} not declared"


def test_prometheus_and_alertmanager_configs_are_the_rendered_lab_profile() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "compose" / "render.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_rendered_configs_pass_promtool_and_amtool() -> None:
    promtool, amtool = shutil.which("promtool"), shutil.which("amtool")
    if promtool is None or amtool is None:
        pytest.skip("promtool / amtool not on PATH (run scripts/install-system-deps)")

    def check(tool: str, *args: str, cwd: str) -> None:
        done = subprocess.run([tool, *args], cwd=ROOT / cwd, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr

    check(promtool, "check", "config", "prometheus.yml", cwd="deploy/compose/prometheus")
    check(amtool, "check-config", "alertmanager.yml", cwd="deploy/compose/alertmanager")


def test_grafana_mounts_match_the_provisioning(compose: dict[str, Any]) -> None:
    volumes = compose["services"]["grafana"]["volumes"]
    provider = yaml.safe_load((ROOT / "grafana/provisioning/dashboards/dashboards.yml").read_text())
    assert f"./grafana/dashboards:{provider['providers'][0]['options']['path']}:ro" in volumes
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in volumes
    env = compose["services"]["grafana"]["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true" and env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"


def test_the_target_is_not_supervised_and_the_action_server_can_restart_it(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["target"]["restart"] == "no"
    action = services["action"]
    assert action["environment"]["ACTION_RESTART_MODE"] == "docker"
    assert action["environment"]["ACTION_TARGET_CONTAINER"] == services["target"]["container_name"]
    assert "/var/run/docker.sock:/var/run/docker.sock" in action["volumes"]


def test_the_action_servers_env_is_what_its_settings_read(compose: dict[str, Any]) -> None:
    """A name the action server does not know would be ignored silently (extra="ignore")."""
    env = compose["services"]["action"]["environment"]
    known = {f"ACTION_{name.upper()}" for name in ActionSettings.model_fields}
    assert set(env) <= known, sorted(set(env) - known)
    settings = ActionSettings(**{key.removeprefix("ACTION_").lower(): value for key, value in env.items()})
    assert settings.resolved_restart_mode() == "docker"
    mounts = [volume.split(":")[1] for volume in compose["services"]["action"]["volumes"]]
    assert str(settings.docker_socket) in mounts


def test_the_agent_is_blind_to_the_fault_injector(compose: dict[str, Any]) -> None:
    agent = compose["services"]["agent"]
    text = yaml.safe_dump(agent).lower()
    assert "chaos" not in text and "8080" not in text.replace("weaviate:8080", "")
    assert not any(key.endswith("HOOK_TOKEN") and key != "WEBHOOK_TOKEN" for key in agent["environment"])
    assert not any("HOOK_TOKEN}" in str(v) and "WEBHOOK" not in str(v) for v in agent["environment"].values())


def test_secrets_stay_out_of_git_and_the_image() -> None:
    example = (ROOT / ".env.example").read_text()
    assert "change-me" in example
    dockerignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ".env" in dockerignore
