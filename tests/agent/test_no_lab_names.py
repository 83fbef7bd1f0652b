"""Nothing under agent/ knows a particular service: the lab's two services, their endpoints, metric names,
alert names, actions and settings live only in the catalog (services/), signal packs (signals/) and
runbooks. Checked across files: the names are read from the lab's own data, so a new lab name is caught."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
AGENT = ROOT / "agent"


def lab_names() -> set[str]:
    names: set[str] = set()
    for entry in sorted((ROOT / "services").glob("*.yml")):
        data = yaml.safe_load(entry.read_text())
        names.add(data["service"])
        for probe in data.get("probes", []):
            names.add(probe["url"].split("}", 1)[-1])  # the path after ${BASE_URL}
            names.update(re.findall(r"\$\{([A-Z_]+)", probe["url"]))
        backend = (data.get("actions") or {}).get("backend") or {}
        names.update(re.findall(r"\$\{([A-Z_]+)", backend.get("url", "")))
        if backend.get("health"):
            names.add(backend["health"])
        for key, allowed in (data.get("actions") or {}).get("allowed", {}).items():
            names.add((allowed or {}).get("action") or key)
    for pack in sorted((ROOT / "signals").glob("lab-*.yml")):
        text = pack.read_text()
        names.update(re.findall(r"\b((?:target|queue)_[a-z_]+)", text))
    for rules in sorted((ROOT / "alerting" / "rules").glob("*.j2")):
        names.update(re.findall(r"alert: ([A-Za-z]+)", rules.read_text()))
    return names


def test_the_lab_names_are_found_in_its_data() -> None:
    names = lab_names()
    expected = {
        *("target", "worker", "/api/v1/health", "target_db_pool_utilization_ratio", "restart-target"),
        *("queue_oldest_message_age_seconds", "restart-worker", "verify-target-health", "TargetDown"),
        *("WorkerNotConsuming", "TARGET_API_BASE_URL"),
    }
    assert expected <= names, expected - names


def test_no_module_under_agent_names_a_lab_service() -> None:
    names = lab_names()
    services = {n for n in names if re.fullmatch(r"[a-z]+", n)}
    found = []
    for path in sorted(AGENT.rglob("*")):
        if path.suffix not in (".py", ".yml", ".yaml", ".md", ".json") or not path.is_file():
            continue
        text = path.read_text()
        for name in names - services:
            if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text):
                found.append(f"{path.relative_to(ROOT)}: {name}")
        for service in services:  # a service's name as a value in code: "target", 'worker'
            if re.search(rf"[\"']{service}[\"']", text):
                found.append(f"{path.relative_to(ROOT)}: {service!r}")
    assert not found, "\n".join(found)
