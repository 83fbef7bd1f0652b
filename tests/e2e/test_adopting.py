"""docs/adopting.md, run: the page's files taken from it as they are, a real `checkout` service, real
Prometheus and Alertmanager, checkout's action server, and the agent's real app knowing nothing but those
files and two environment variables. The page cannot drift from what was tested.

The checks that only read the pages take a second and are not marked e2e, so they run
wherever the tests run: the files load as the agent loads them, the signals table is what the packs
give, the runbook's counter-signal does what the page says, the action server answers as the page's
examples do, the catalog page shows this page's catalog entry. The whole path needs the Prometheus and
Alertmanager binaries.
"""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from agent.actions.params import bounded_params
from agent.app import create_app
from agent.catalog.catalog import Service, ServiceCatalog
from agent.catalog.packs import load_packs
from agent.composition import Parts
from agent.config import Settings
from agent.diagnosis.deterministic import diagnose
from agent.diagnosis.investigate import investigate
from agent.domain.alerts import AlertSummary
from agent.domain.signals import Reading, Symptoms
from agent.knowledge.runbooks import check_signals, load_runbooks
from lab.runner.ports import free_port
from lab.standins import ServedApp

from ..helpers.binaries import require_binary
from ..helpers.pipeline import process, wait_for
from .checkout_example import FLAG, FlagStore, RecentRequests, Traffic, action_server, checkout_app

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "adopting.md"
CATALOG_PAGE = ROOT / "docs" / "runbooks-and-catalog.md"
AGENT_FILES = ("services/checkout.yml", "runbooks/checkout-bad-flag.md")
MONITORING_FILES = ("checkout.rules.yml", "prometheus.yml", "alertmanager.yml")
# What the test changes in the page's files: the addresses (placeholder → component), and where the
# webhook token is.
PLACEHOLDERS = {"checkout:8080": "checkout", "alertmanager:9093": "alertmanager", "sre-agent:9001": "agent"}
TOKEN_FILE = "/etc/alertmanager/sre-agent-webhook.token"
WORKFLOW_STEPS = ["gather", "diagnose", "investigate", "plan", "execute", "verify", "learn"]
ENV = {"CHECKOUT_ACTIONS_URL": "http://checkout-actions:8081"}  # for the checks that do not call it

_FILE_BLOCK = re.compile(
    r'^(?P<fence>`{3,})\w+ title="(?P<name>[^"]+)"\n(?P<body>.*?\n)(?P=fence)$', re.MULTILINE | re.DOTALL
)
_TABLE_ROW = re.compile(
    r"^\| `(?P<name>[a-z0-9_]+)` \| (?P<unit>\w+) \| (?P<query>.+) \| (?P<pack>[a-z-]+) \|$"
)


def file_blocks(path: Path) -> dict[str, str]:
    """Each fenced block with a `title="<file>"` info string: the file's exact content, by name."""
    blocks: dict[str, str] = {}
    for match in _FILE_BLOCK.finditer(path.read_text(encoding="utf-8")):
        assert match["name"] not in blocks, f"{path.name} has two blocks for {match['name']}"
        blocks[match["name"]] = match["body"]
    return blocks


def write_files(folder: Path, blocks: dict[str, str], names: tuple[str, ...]) -> None:
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(blocks[name], encoding="utf-8")


def readdressed(text: str, replacements: dict[str, str]) -> str:
    for placeholder, actual in replacements.items():
        text = text.replace(placeholder, actual)
    return text


def load_checkout(folder: Path) -> tuple[ServiceCatalog, Service]:
    catalog = ServiceCatalog(folder / "services", [folder / "signals"], ENV)
    catalog.refresh()
    assert catalog.notes == []
    service = catalog.get("checkout")
    assert service is not None
    return catalog, service


# ---------------------------------------------------------------- the pages, read
def test_the_catalog_page_shows_this_pages_catalog_entry() -> None:
    assert file_blocks(CATALOG_PAGE)["services/checkout.yml"] == file_blocks(DOC)["services/checkout.yml"]


def test_the_pages_files_load_as_the_agent_loads_them(tmp_path: Path) -> None:
    blocks = file_blocks(DOC)
    assert set(blocks) == {*AGENT_FILES, *MONITORING_FILES}
    write_files(tmp_path, blocks, AGENT_FILES)
    catalog, service = load_checkout(tmp_path)
    (runbook,) = load_runbooks(tmp_path / "runbooks")
    check_signals(runbook, catalog.signal_names())
    assert runbook.applies_to(service.signal_names(), service.packs)
    for action in runbook.actions:  # allowed, and within the catalog's bounds as the runbook asks it
        allowed = service.allowed(action.action)
        assert allowed is not None, action.action
        assert bounded_params(allowed, action.params) == (action.params, [])
    headings = re.findall(r"^## (.+)$", runbook.body, re.MULTILINE)
    shipped = re.findall(r"^## (.+)$", (ROOT / "runbooks" / "poison-message.md").read_text(), re.MULTILINE)
    assert headings == shipped

    rules = yaml.safe_load(blocks["checkout.rules.yml"])
    alerts = {rule["alert"]: rule for group in rules["groups"] for rule in group["rules"]}
    assert set(runbook.alerts) <= set(alerts)
    for name, rule in alerts.items():
        assert service.owns_alert({"alertname": name, **rule["labels"]}), name
    routes = yaml.safe_load(blocks["alertmanager.yml"])["route"]["routes"]
    assert next(r for r in routes if r["receiver"] == "sre-agent")["matchers"] == service.entry.owns


def test_the_signals_table_is_what_the_packs_give(tmp_path: Path) -> None:
    write_files(tmp_path, file_blocks(DOC), AGENT_FILES)
    _, service = load_checkout(tmp_path)
    packs = load_packs()
    rows = [m for line in DOC.read_text().splitlines() if (m := _TABLE_ROW.match(line))]
    assert sorted(row["name"] for row in rows) == sorted(service.signals)
    for row in rows:
        spec = service.signals[row["name"]]
        expected = f"derived: `{spec.derive}`" if spec.derive else f"`{spec.promql[0]}`"
        assert (row["unit"], row["query"]) == (spec.unit, expected), row["name"]
        assert row["name"] in packs[row["pack"]].signals


def test_the_pages_timeline_is_the_workflows_steps() -> None:
    shown = dict.fromkeys(re.findall(r'"step": "([a-z]+)"', DOC.read_text()))
    assert [step for step in shown if step in WORKFLOW_STEPS] == WORKFLOW_STEPS


@pytest.mark.parametrize(("error_ratio", "acted_on"), [(0.4, True), (1.0, False)])
def test_the_runbook_acts_on_a_flags_share_of_errors_not_on_all(
    tmp_path: Path, error_ratio: float, acted_on: bool
) -> None:
    """What the page says of the counter-signal: nearly every request failing is not a flag's doing, and
    the diagnosis is then not confident enough to act (the agent's default MIN_CONFIDENCE)."""
    write_files(tmp_path, file_blocks(DOC), AGENT_FILES)
    _, service = load_checkout(tmp_path)
    (runbook,) = load_runbooks(tmp_path / "runbooks")
    signals = {"error_ratio": error_ratio, "up": True, "latency_p95_seconds": 0.005}
    symptoms = Symptoms(
        service="checkout",
        alerts=[AlertSummary(name="CheckoutHighErrorRatio", labels={"service": "checkout"})],
        signals={name: Reading(value=v, unit=service.signals[name].unit) for name, v in signals.items()},
    )
    diagnosis = investigate(symptoms, [runbook], diagnose(symptoms, [runbook])).diagnosis
    assert diagnosis.diagnosis_id == runbook.id
    assert (diagnosis.confidence >= Settings.model_fields["MIN_CONFIDENCE"].default) is acted_on


def test_the_action_server_answers_as_the_page_says() -> None:
    flags, token = FlagStore(), "actions-token"
    with TestClient(action_server(flags, RecentRequests(), token)) as server:
        assert server.get("/action/catalog").status_code == 401
        server.headers["Authorization"] = f"Bearer {token}"
        assert [a["name"] for a in server.get("/action/catalog").json()["actions"]] == ["disable-flag"]
        assert server.get("/action/checkout-health").json() == {"is_healthy": True, "status": "healthy"}
        assert server.post("/action/disable-flag", json={"changed_within_seconds": 7200}).status_code == 422
        nothing = server.post("/action/disable-flag", json={"changed_within_seconds": 1800})
        assert nothing.status_code == 409
        assert nothing.json()["detail"] == "no flag was turned on in the last 1800 s"
        flags.turn_on(FLAG)
        done = server.post("/action/disable-flag", json={"changed_within_seconds": 1800})
        assert done.status_code == 200 and not flags.is_on(FLAG)
        assert done.json() == {
            "action": "disable-flag",
            "status": "succeeded",
            "detail": "turned off new-pricing",
            "changes": {"disabled": ["new-pricing"]},
        }
        records = server.get("/action/audit").json()["records"]
        assert [(r["action"], r["params"], r["status"]) for r in records] == [
            ("disable-flag", {"changed_within_seconds": 1800}, "succeeded"),
            ("disable-flag", {"changed_within_seconds": 1800}, "failed"),
        ]
        assert set(records[0]) == {"at", "action", "params", "status", "detail"}


# ---------------------------------------------------------------- the whole path, run
def prometheus_samples(url: str, query: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}/api/v1/query", params={"query": query}, timeout=2)
    if response.status_code != 200:  # 503 until the TSDB is ready
        return []
    return list(response.json()["data"]["result"])


def prometheus_number(url: str, query: str) -> float | None:
    samples = prometheus_samples(url, query)
    return float(samples[0]["value"][1]) if samples else None


def page_queries() -> list[str]:
    """The page's PromQL block, one query per line."""
    block = DOC.read_text().split("```promql\n", 1)[1].split("```", 1)[0]
    return [query for line in block.splitlines() if (query := line.split("#", 1)[0].strip())]


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` with these labels in an exposition."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def prometheus_argv(binary: str, folder: Path, port: int) -> list[str]:
    """The default resend delay holds the first notification back for up to a minute (see DESIGN.md)."""
    return [
        binary,
        f"--config.file={folder / 'prometheus.yml'}",
        f"--storage.tsdb.path={folder / 'prometheus-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--rules.alert.resend-delay=1s",
        "--log.level=warn",
    ]


def alertmanager_argv(binary: str, folder: Path, port: int) -> list[str]:
    return [
        binary,
        f"--config.file={folder / 'alertmanager.yml'}",
        f"--storage.path={folder / 'alertmanager-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        "--log.level=warn",
    ]


def adopter_settings(folder: Path, prometheus_url: str, webhook_token: str) -> Settings:
    """The agent as an adopter runs it: the page's two folders, their Prometheus, the tokens."""
    return Settings(
        _env_file=None,
        PROMETHEUS_URL=prometheus_url,
        SERVICES_PATH=folder / "services",
        RUNBOOKS_PATH=folder / "runbooks",
        SIGNAL_PACKS_PATH=folder / "signals",  # none of its own: the built-in packs
        WEBHOOK_TOKEN=SecretStr(webhook_token),
        API_TOKEN=SecretStr("adopter-api-token"),  # the page sets both: the agent refuses to start without
        AGENT_DATA_DIR=folder / "agent",
        VECTOR_STORE_PATH=folder / "agent" / "knowledge.json",
        PROPOSED_RUNBOOKS_PATH=folder / "agent" / "proposed",
        EMBEDDING_MODEL="",
        LLM_MODEL="",
        VERIFY_POLL_SECONDS=1,
    )


def audit_records(url: str, token: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}/action/audit", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    return list(response.json()["records"])


def finished(agent: httpx.Client, incident_id: str) -> dict[str, Any] | None:
    """Closed, and its learn step's entry written: the status is set before what it remembered is told."""
    incident: dict[str, Any] = agent.get(f"/agent/incidents/{incident_id}").json()
    closed = incident["status"] in ("resolved", "escalated", "failed")
    return incident if closed and any(e["step"] == "learn" for e in incident["timeline"]) else None


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.timeout(240)
def test_the_agent_turns_off_checkouts_bad_flag_from_the_pages_files_alone(tmp_path: Path) -> None:
    started = time.monotonic()
    prometheus_bin = require_binary("prometheus")
    alertmanager_bin = require_binary("alertmanager", "prometheus-alertmanager")
    blocks = file_blocks(DOC)
    port = {name: free_port() for name in ("checkout", "actions", "agent", "prometheus", "alertmanager")}
    url = {name: f"http://127.0.0.1:{number}" for name, number in port.items()}
    monitoring = tmp_path / "monitoring"
    token_file = monitoring / "sre-agent-webhook.token"
    replacements = {p: f"127.0.0.1:{port[name]}" for p, name in PLACEHOLDERS.items()}
    replacements[TOKEN_FILE] = str(token_file)
    readdressed_blocks = {name: readdressed(blocks[name], replacements) for name in MONITORING_FILES}
    write_files(tmp_path, blocks, AGENT_FILES)
    write_files(monitoring, readdressed_blocks, MONITORING_FILES)
    action_token, webhook_token = secrets.token_hex(16), secrets.token_hex(16)
    token_file.write_text(webhook_token + "\n")
    settings = adopter_settings(tmp_path, url["prometheus"], webhook_token)
    env = {"CHECKOUT_ACTIONS_URL": url["actions"], "CHECKOUT_ACTIONS_TOKEN": action_token}
    logs = [tmp_path / "prometheus.log", tmp_path / "alertmanager.log"]
    flags, recent = FlagStore(), RecentRequests()
    marks: dict[str, float] = {}

    def mark(name: str) -> None:
        marks[name] = time.monotonic()

    with (
        ServedApp(checkout_app(flags, recent), port["checkout"]),
        Traffic(url["checkout"]),
        ServedApp(action_server(flags, recent, action_token), port["actions"]),
        ServedApp(create_app(settings, Parts(env=env)), port["agent"]),
        process(alertmanager_argv(alertmanager_bin, monitoring, port["alertmanager"]), logs[1]),
        process(prometheus_argv(prometheus_bin, monitoring, port["prometheus"]), logs[0]),
        httpx.Client(base_url=url["agent"], timeout=5) as agent,
    ):
        prom = url["prometheus"]
        status = agent.get("/agent/status").json()
        assert status["notes"] == [] and status["dependencies"]["actions:checkout"]["ok"]
        assert status["services"]["checkout"] == {
            "runbooks": 1,
            "signals": 11,
            "packs": ["http", "standard"],
            "actions": ["disable-flag"],
        }
        wait_for(
            lambda: prometheus_number(prom, 'sum(rate(http_requests_total{job="checkout"}[15s]))'),
            60,
            "checkout's request rate in Prometheus",
            logs,
        )
        mark("checkout's rate known")
        assert prometheus_samples(prom, 'ALERTS{service="checkout"}') == []

        flags.turn_on(FLAG)
        mark("flag on")
        firing = 'ALERTS{alertname="CheckoutHighErrorRatio",alertstate="firing"}'
        wait_for(lambda: prometheus_samples(prom, firing), 60, "CheckoutHighErrorRatio firing", logs)
        mark("alert firing")
        (summary,) = wait_for(
            lambda: agent.get("/agent/incidents").json()["incidents"], 30, "an incident at the agent", logs
        )
        mark("incident open")
        incident = wait_for(lambda: finished(agent, summary["id"]), 120, "the incident finished", logs)
        mark("incident resolved")
        for entry in incident["timeline"]:
            print(f"  {entry['ts'][11:23]} {entry['step']:<11} {entry['message']}")

        assert incident["status"] == "resolved", incident["escalation_reason"]
        assert (incident["service"], incident["source"]) == ("checkout", "alertmanager")
        assert [a["name"] for a in incident["alerts"]] == ["CheckoutHighErrorRatio"]
        assert incident["diagnosis"]["diagnosis_id"] == "checkout-bad-flag"
        steps = dict.fromkeys(e["step"] for e in incident["timeline"])  # in order, once each
        assert [step for step in steps if step in WORKFLOW_STEPS] == WORKFLOW_STEPS
        once = ("disable-flag", {"changed_within_seconds": 1800}, "succeeded")
        assert [(a["action"], a["params"], a["status"]) for a in incident["actions"]] == [once]
        audit = audit_records(url["actions"], action_token)
        assert [(r["action"], r["params"], r["status"]) for r in audit] == [once]
        assert not flags.is_on(FLAG)
        # Recovery as the runbook defines it, read through Prometheus: its signals and no alert firing.
        (verification,) = incident["verification"]
        assert (verification["healthy"], verification["method"]) == (True, "promql")
        assert verification["last_results"]["error_ratio < 0.05"] < 0.05
        assert verification["last_results"]["up == True"] is True
        assert verification["last_results"]["alerts still firing"] == []

        exposition = agent.get("/metrics").text
        assert metric(exposition, "sre_agent_incidents_total", service="checkout", outcome="resolved") == 1
        assert metric(exposition, "sre_agent_incidents_total") == 1
        assert metric(exposition, "sre_agent_actions_total") == 1
        resolved = 'sum(sre_agent_incidents_total{service="checkout",outcome="resolved"})'
        wait_for(lambda: prometheus_number(prom, resolved) == 1, 15, "the incident in Prometheus", logs)
        mark("counted in Prometheus")
        for query in page_queries():
            answer = httpx.get(f"{prom}/api/v1/query", params={"query": query}, timeout=5).json()
            assert answer["status"] == "success", (query, answer)
        by_outcome = {
            (s["metric"]["diagnosis"], s["metric"]["outcome"]): float(s["value"][1])
            for s in prometheus_samples(prom, page_queries()[0])
        }
        assert by_outcome[("checkout-bad-flag", "resolved")] == 1 and sum(by_outcome.values()) == 1
        # Alertmanager's resolved notification is the same page: no second incident, no second action.
        wait_for(
            lambda: (
                metric(agent.get("/metrics").text, "sre_agent_webhook_requests_total", result="accepted") >= 2
            ),
            30,
            "the resolved notification",
            logs,
        )
        assert len(agent.get("/agent/incidents").json()["incidents"]) == 1
        assert len(audit_records(url["actions"], action_token)) == 1

    print()
    last = started
    for name, at in marks.items():  # each step's time since the one before
        print(f"  {name:<24} +{at - last:5.1f} s")
        last = at
    print(f"  {'total':<24} {time.monotonic() - started:6.1f} s")
