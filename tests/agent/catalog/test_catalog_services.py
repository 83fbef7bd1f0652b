"""What the workflow asks of the catalog: which service owns an alert (exactly one, or nobody with the
reason why), the signal names runbooks may use (probe signals included), and the names that map runbook
actions to the action backend's."""

from __future__ import annotations

from pathlib import Path

from agent.catalog.catalog import ServiceCatalog
from agent.catalog.services import ServiceEntry

ROOT = Path(__file__).resolve().parents[3]


def entry(name: str, *owns: str, **fields: object) -> ServiceEntry:
    return ServiceEntry.model_validate(
        {
            "service": name,
            "owns": list(owns) or [f'service="{name}"'],
            "selector": f'{{job="{name}"}}',
            **fields,
        }
    )


def lab_catalog() -> ServiceCatalog:
    catalog = ServiceCatalog(ROOT / "services", [ROOT / "signals"], {})
    catalog.refresh()
    assert catalog.notes == []
    return catalog


SHOP = ServiceCatalog.of(
    [
        entry(
            "checkout", 'service="checkout"', '{namespace="shop", alertname=~"KubePod.*", pod=~"checkout-.*"}'
        ),
        entry("billing"),
        entry("payments", 'team="payments"'),
    ]
)


def test_an_alert_one_service_owns_is_its() -> None:
    owner = SHOP.owner({"alertname": "HighErrorRatio", "service": "checkout"})
    assert owner.service is not None and owner.service.name == "checkout"
    assert owner.reason == ""


def test_a_braced_owns_entry_must_match_whole() -> None:
    crash = {"alertname": "KubePodCrashLooping", "namespace": "shop", "pod": "checkout-7d4b9c8f6-x2k9p"}
    owner = SHOP.owner(crash)
    assert owner.service is not None and owner.service.name == "checkout"
    assert SHOP.owner({**crash, "namespace": "staging"}).service is None
    assert SHOP.owner({**crash, "alertname": "TargetDown"}).service is None


def test_an_alert_nobody_owns_says_so() -> None:
    owner = SHOP.owner({"alertname": "DiskFull", "service": "search"})
    assert owner.service is None
    assert owner.reason == "no catalog service owns it"


def test_an_alert_several_services_own_is_nobodys_and_names_them() -> None:
    owner = SHOP.owner({"alertname": "HighErrorRatio", "service": "billing", "team": "payments"})
    assert owner.service is None
    assert owner.reason == "owned by several services: billing, payments"


def test_signal_names_include_probe_signals() -> None:
    queue = {"kind": "http_json", "name": "queue", "url": "http://billing:8080/queue"}
    logs = {"kind": "log", "name": "logs", "url": "http://billing:8080/logs", "message": ["msg"]}
    billing = entry(
        "billing",
        packs=["standard"],
        probes=[{**queue, "signals": {"queue_depth": {"path": "depth", "unit": "count"}}}, logs],
    )
    catalog = ServiceCatalog.of([billing])
    service = catalog.get("billing")
    assert service is not None
    assert service.signal_names() == {*catalog.packs["standard"].signals, "queue_depth"}
    assert service.reads_logs
    assert "queue_depth" in catalog.signal_names()
    # Every pack's signals are names a runbook may use, whether or not a service uses the pack.
    assert {"pod_restarts", "processing_failures_per_second", "up"} <= catalog.signal_names()


def test_backend_action_and_runbook_names_map_both_ways() -> None:
    target = lab_catalog().get("target")
    assert target is not None
    assert target.backend_action("restart") == "restart-target"
    assert target.backend_action("rollback-release") == "rollback-release"
    assert target.backend_action("not-allowed") == "not-allowed"
    names = target.runbook_names()
    assert names["restart-target"] == "restart"
    assert names["rollback-release"] == "rollback-release"
    assert "restart" not in names
    assert {target.backend_action(runbook) for runbook in names.values()} == set(names)


def test_allowed_actions_carry_their_bounds() -> None:
    target = lab_catalog().get("target")
    assert target is not None
    limit = target.allowed("enable-rate-limit")
    assert limit is not None
    bound = limit.params["requests_per_second"]
    assert (bound.min, bound.max) == (5, 10000)
    assert target.allowed("scale-out") is None


def test_queries_and_alert_selectors_are_scoped_to_the_service() -> None:
    checkout = SHOP.get("checkout")
    assert checkout is not None
    assert checkout.scope("target_up$selector == 1") == 'target_up{job="checkout"} == 1'
    assert checkout.scope('rate(x{$matchers,code=~"5.."}[1m])') == 'rate(x{job="checkout",code=~"5.."}[1m])'
    assert checkout.alerts_selectors('alertstate="firing"') == [
        '{alertstate="firing",service="checkout"}',
        '{alertstate="firing",namespace="shop",alertname=~"KubePod.*",pod=~"checkout-.*"}',
    ]
    assert checkout.scope("rate(x$selector[$since])", since="12s") == 'rate(x{job="checkout"}[12s])'


def test_after_a_fix_signals_read_rate_windows_that_start_at_it() -> None:
    """Verification reads signals over the time since the fix: a full window would still hold the fault."""
    worker = lab_catalog().get("worker")
    assert worker is not None
    cpu, memory = worker.signals["cpu_cores"].promql, worker.signals["memory_growth_bytes_per_second"].promql
    assert all("[10s]" in q for q in cpu)
    since = worker.since(7.9)
    assert since.signals["cpu_cores"].promql == [q.replace("[10s]", "[7s]") for q in cpu]
    assert since.signals["memory_growth_bytes_per_second"].promql == memory  # not a rate window
    assert worker.signals["cpu_cores"].promql == cpu  # the catalog's own service is unchanged
    assert worker.since(0.2).signals["cpu_cores"].promql == [q.replace("[10s]", "[1s]") for q in cpu]
    assert worker.since(600).signals == worker.signals  # never longer than the window


def test_a_fix_settles_over_the_services_rate_window_unless_it_says_otherwise() -> None:
    """Verification judges what still fires once the signals cover only time after the fix."""
    catalog = ServiceCatalog.of(
        [
            entry("pack-default", packs=["standard"]),
            entry("own-window", packs=["standard"], vars={"window": "45s"}),
            entry("said", packs=["standard"], vars={"window": "45s"}, verify={"settle": "2m"}),
            entry("no-packs"),
        ]
    )
    settle = {name: service.settle_seconds for name, service in catalog.services().items()}
    assert settle == {"pack-default": 300.0, "own-window": 45.0, "said": 120.0, "no-packs": 0.0}
