"""The service catalog read from a folder as the agent reads SERVICES_PATH: entries resolved against the
packs, `${ENV}` filled in URLs, each broken entry a note naming its file and what to fix (keeping its
last good version), files added, changed and removed taken up on refresh, and nothing raised."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.catalog.catalog import ServiceCatalog
from agent.catalog.services import HttpJsonProbe

CHECKOUT = """\
service: checkout
owns: ['service="checkout"']
selector: '{job="checkout"}'
packs: [standard, http]
vars: {window: 2m}
probes:
  - kind: http_json
    name: health
    url: ${CHECKOUT_URL:-http://checkout:8080}/health
    signals: {queue_depth: {path: queue.depth, unit: count}}
actions:
  backend: {url: "${ACTIONS_URL:-http://actions:9000}", token_env: ACTIONS_TOKEN}
  allowed:
    restart: {action: rollout-restart}
"""
BILLING = """\
service: billing
owns: ['service="billing"']
selector: '{job="billing"}'
packs: [standard]
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    services = tmp_path / "services"
    services.mkdir()
    return services


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def loaded(folder: Path, env: dict[str, str] | None = None) -> ServiceCatalog:
    catalog = ServiceCatalog(folder, env=env)
    catalog.refresh()
    return catalog


def test_a_valid_entry_is_resolved_against_its_packs(folder: Path) -> None:
    write(folder, "checkout.yml", CHECKOUT)
    catalog = ServiceCatalog(folder)
    assert catalog.refresh() is True
    assert catalog.notes == []
    service = catalog.get("checkout")
    assert service is not None
    assert service.packs == frozenset({"standard", "http"})
    assert service.selector == '{job="checkout"}'
    # The entry's window replaces the pack's default; the pack's own defaults stay, in seconds too.
    assert service.signals["requests_per_second"].promql == [
        'sum(rate(http_requests_total{job="checkout"}[2m]))'
    ]
    memory = service.signals["memory_growth_bytes_per_second"].promql[0]
    assert "[10m]" in memory and "> 600" in memory
    assert catalog.refresh() is False


def test_urls_take_the_environment_or_their_default(folder: Path) -> None:
    write(folder, "checkout.yml", CHECKOUT)
    service = loaded(folder).get("checkout")
    assert service is not None and service.backend is not None
    assert service.backend.url == "http://actions:9000"
    assert isinstance(service.probes[0], HttpJsonProbe)
    assert service.probes[0].url == "http://checkout:8080/health"

    env = {"CHECKOUT_URL": "http://10.0.0.5:8080", "ACTIONS_URL": ""}
    service = loaded(folder, env).get("checkout")
    assert service is not None and service.backend is not None
    assert service.probes[0].url == "http://10.0.0.5:8080/health"
    assert service.backend.url == "http://actions:9000"  # set but empty: the default


def test_an_unset_variable_without_default_is_an_error_naming_it(folder: Path) -> None:
    write(folder, "checkout.yml", CHECKOUT.replace("${ACTIONS_URL:-http://actions:9000}", "${ACTIONS_URL}"))
    catalog = loaded(folder)
    assert catalog.get("checkout") is None
    assert catalog.notes == ["service catalog: checkout.yml: ${ACTIONS_URL} is not set and has no default"]
    assert loaded(folder, {"ACTIONS_URL": "http://act:9000"}).get("checkout") is not None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (BILLING + "colour: blue\n", "colour: Extra inputs are not permitted"),
        (
            BILLING.replace("owns: ['service=\"billing\"']", "owns: []"),
            "owns: List should have at least 1 item",
        ),
        (BILLING.replace("'service=\"billing\"'", "'service'"), "not an Alertmanager matcher: 'service'"),
        (BILLING.replace("'{job=\"billing\"}'", "job=billing"), "the selector is a PromQL label selector"),
        (
            BILLING.replace("service: billing", "service: invoices"),
            "service 'invoices' does not match the file",
        ),
        (BILLING + "packs: [\n", "cannot read"),
        (BILLING.replace("[standard]", "[standard, nope]"), "unknown signal pack(s) ['nope']; known: ["),
        (BILLING.replace("[standard]", "[kube-state-metrics]"), "pack kube-state-metrics needs vars"),
        (
            BILLING + "signals: {queue_age: {promql: 'max(queue_age$selector[$age_window])'}}\n",
            "signal queue_age: variable 'age_window' not set",
        ),
        (BILLING + "verify: {settle: soon}\n", "settle is a Prometheus duration"),
    ],
)
def test_an_invalid_entry_is_a_note_naming_its_file_and_reason(folder: Path, text: str, reason: str) -> None:
    write(folder, "checkout.yml", CHECKOUT)
    write(folder, "billing.yml", text)
    catalog = loaded(folder)
    assert sorted(catalog.services()) == ["checkout"]
    [note] = catalog.notes
    assert note.startswith("service catalog: billing.yml: ")
    assert reason in note


def test_a_pack_missing_some_required_vars_names_them(folder: Path) -> None:
    write(
        folder,
        "billing.yml",
        BILLING.replace("[standard]", "[kube-state-metrics]") + "vars: {namespace: shop}\n",
    )
    assert loaded(folder).notes == [
        "service catalog: billing.yml: pack kube-state-metrics needs vars ['deployment']"
    ]
    write(
        folder,
        "billing.yml",
        BILLING.replace("[standard]", "[kube-state-metrics]")
        + "vars: {namespace: shop, deployment: billing}\n",
    )
    service = loaded(folder).get("billing")
    assert service is not None
    assert 'namespace="shop",pod=~"billing-' in service.signals["pod_restarts"].promql[0]


def test_an_entry_that_breaks_keeps_its_last_good_version(folder: Path) -> None:
    path = write(folder, "checkout.yml", CHECKOUT)
    catalog = loaded(folder)
    good = catalog.get("checkout")

    path.write_text(CHECKOUT.replace("packs: [standard, http]", "packs: [standard, htp]"))
    assert catalog.refresh() is False
    assert catalog.get("checkout") is good
    [note] = catalog.notes
    assert note.startswith("service catalog: checkout.yml: unknown signal pack(s) ['htp']")

    path.write_text(CHECKOUT.replace("vars: {window: 2m}", "vars: {window: 1m}"))
    assert catalog.refresh() is True
    assert catalog.notes == []
    service = catalog.get("checkout")
    assert service is not None and "[1m]" in service.signals["requests_per_second"].promql[0]


def test_a_new_entry_that_never_validated_stays_out(folder: Path) -> None:
    write(folder, "checkout.yml", CHECKOUT)
    catalog = loaded(folder)
    write(folder, "billing.yml", BILLING + "colour: blue\n")
    assert catalog.refresh() is False
    assert sorted(catalog.services()) == ["checkout"]
    assert len(catalog.notes) == 1


def test_files_added_and_removed_change_the_services(folder: Path) -> None:
    write(folder, "checkout.yml", CHECKOUT)
    catalog = loaded(folder)
    billing = write(folder, "billing.yaml", BILLING)
    assert catalog.refresh() is True
    assert sorted(catalog.services()) == ["billing", "checkout"]
    billing.unlink()
    assert catalog.refresh() is True
    assert sorted(catalog.services()) == ["checkout"]


def test_ownership_follows_the_services_as_they_change(folder: Path) -> None:
    """Answers are remembered by the labels the matchers name (an instance or pod does not matter) and
    forgotten when the services change."""
    write(folder, "checkout.yml", CHECKOUT)
    catalog = loaded(folder)
    ours = {"alertname": "HighLatency", "service": "billing"}
    assert catalog.owner({**ours, "instance": "a"}).service is None
    write(folder, "billing.yaml", BILLING)
    assert catalog.refresh() is True
    for instance in ("a", "b"):
        owner = catalog.owner({**ours, "instance": instance}).service
        assert owner is not None and owner.name == "billing"
    write(folder, "checkout.yml", CHECKOUT.replace('service="checkout"', 'service=~"checkout|billing"'))
    assert catalog.refresh() is True
    assert catalog.owner(ours).reason == "owned by several services: billing, checkout"
    assert catalog.owner({"service": "checkout"}).service == catalog.get("checkout")


def test_two_files_defining_one_service(folder: Path) -> None:
    write(folder, "checkout.yaml", CHECKOUT)
    write(folder, "checkout.yml", CHECKOUT.replace("vars: {window: 2m}", "vars: {window: 9m}"))
    catalog = loaded(folder)
    assert catalog.notes == ["service catalog: checkout.yml: service 'checkout' is defined twice"]
    service = catalog.get("checkout")
    assert service is not None and "[2m]" in service.signals["requests_per_second"].promql[0]

    # The file that defines it first is still the one read: its edits apply.
    write(folder, "checkout.yaml", CHECKOUT.replace("vars: {window: 2m}", "vars: {window: 3m}"))
    assert catalog.refresh() is True
    service = catalog.get("checkout")
    assert service is not None and "[3m]" in service.signals["requests_per_second"].promql[0]
    assert catalog.notes == ["service catalog: checkout.yml: service 'checkout' is defined twice"]


def test_a_missing_folder_is_a_note_not_an_exception(tmp_path: Path) -> None:
    catalog = ServiceCatalog(tmp_path / "nowhere")
    assert catalog.refresh() is False
    assert catalog.services() == {}
    [note] = catalog.notes
    assert note.startswith("service catalog: catalog: ") and "does not exist" in note


def test_a_broken_pack_keeps_the_services_and_names_the_pack_file(folder: Path, tmp_path: Path) -> None:
    packs = tmp_path / "signals"
    packs.mkdir()
    write(folder, "checkout.yml", CHECKOUT)
    catalog = ServiceCatalog(folder, [packs])
    catalog.refresh()
    write(
        packs,
        "queue.yml",
        "pack: queue\ndescription: a queue\nsignals: {depth: {promql: 'max(q$selector[$nope])'}}\n",
    )
    write(folder, "billing.yml", BILLING)  # a change, so the folder is read again
    assert catalog.refresh() is False
    assert sorted(catalog.services()) == ["checkout"]
    [note] = catalog.notes
    assert "queue.yml" in note and "unknown variable(s) ['nope']" in note


def test_a_pack_from_the_pack_folder_serves_an_entry(folder: Path, tmp_path: Path) -> None:
    packs = tmp_path / "signals"
    packs.mkdir()
    write(
        packs,
        "queue.yml",
        "pack: queue\ndescription: a queue\nvars: {age: 5m}\n"
        "signals: {depth: {promql: 'max(queue_depth$selector)', unit: count},"
        " oldest: {promql: 'max(max_over_time(queue_age_seconds{$matchers,q=\"main\"}[$age]))'}}\n",
    )
    write(folder, "billing.yml", BILLING.replace("[standard]", "[standard, queue]"))
    catalog = ServiceCatalog(folder, [packs])
    catalog.refresh()
    service = catalog.get("billing")
    assert service is not None
    assert service.signals["depth"].promql == ['max(queue_depth{job="billing"})']
    assert service.signals["oldest"].promql == [
        'max(max_over_time(queue_age_seconds{job="billing",q="main"}[5m]))'
    ]
