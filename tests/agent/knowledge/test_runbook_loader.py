"""The shipped runbooks load and validate against the service catalog; a broken one names its file and
the reason."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from agent.catalog.catalog import ServiceCatalog
from agent.knowledge.runbooks import RunbookError, check_signals, load_runbooks

ROOT = Path(__file__).resolve().parents[3]
RUNBOOKS = ROOT / "runbooks"
DIAGNOSES = {
    "service-down",
    "db-pool-exhaustion",
    "db-lock-contention",
    "memory-leak",
    "cpu-saturation",
    "bad-release",
    "dependency-outage",
    "traffic-surge",
    "disk-full",
    "poison-message",
    "consumer-stalled",
    "consumer-saturation",
}


def lab_catalog() -> ServiceCatalog:
    catalog = ServiceCatalog(ROOT / "services", [ROOT / "signals"], {})
    catalog.refresh()
    assert catalog.notes == []
    return catalog


GOOD = """---
id: {id}
title: A test runbook
alerts: [TargetHighLatency]
signals:
  - {{signal: latency_p95_seconds, op: ">=", value: 0.5, weight: 2, description: "p95 latency"}}
actions:
  - {{action: restart, params: {{}}, risk: medium}}
verification:
  promql: ["target_up$selector == 1"]
escalate_when: never
---
# Body
"""


def test_every_diagnosis_has_a_valid_runbook() -> None:
    runbooks = load_runbooks(RUNBOOKS)
    catalog = lab_catalog()
    assert {rb.id for rb in runbooks} == DIAGNOSES
    for rb in runbooks:
        check_signals(rb, catalog.signal_names())  # every signal it names, some pack or probe gives
        assert rb.actions and rb.checks, rb.id
        services = [s for s in catalog.services().values() if rb.applies_to(s.signal_names(), s.packs)]
        assert services, f"{rb.id} applies to no service of the catalog"
        for service in services:  # what it plans, each service it applies to allows
            assert set(rb.action_names) <= set(service.entry.actions.allowed), (rb.id, service.name)
        # verification is scoped to the service it runs for
        assert all("$selector" in q or "$matchers" in q for q in rb.verification.promql), rb.id
        assert rb.verification.promql or rb.verification.signals, rb.id
        assert len(rb.content_hash) == 64
        for heading in (
            "## Symptoms",
            "## Diagnosis",
            "## Remediation",
            "## What NOT to do",
            "## Escalation",
        ):
            assert heading in rb.body, (rb.id, heading)


def test_ordered_approaches_and_the_rate_limit_rule() -> None:
    by_id = {rb.id: rb for rb in load_runbooks(RUNBOOKS)}
    pool = by_id["db-pool-exhaustion"].actions
    assert [a.action for a in pool] == [
        "remediate-db-pool-exhaustion",
        "remediate-db-pool-exhaustion",
        "restart",
    ]
    assert pool[1].params["escalate_to_db_restart"] is True
    surge = by_id["traffic-surge"].actions[0]
    assert surge.resolve_params({"baseline_rps": 10.0}) == {"requests_per_second": 20.0}
    assert surge.resolve_params({"baseline_rps": None}) == {}  # the catalog default applies
    # a tiny baseline (a quiet night) does not throttle the service to a trickle: the runbook's floor
    assert surge.resolve_params({"baseline_rps": 0.01}) == {"requests_per_second": 5}
    for no_restart in ("db-lock-contention", "bad-release", "dependency-outage", "disk-full"):
        assert "restart" not in by_id[no_restart].action_names


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_verification_promql_parses(tmp_path: Path) -> None:
    target = lab_catalog().get("target")
    assert target is not None
    rules = [
        {"record": f"verify:{rb.id.replace('-', '_')}:{i}", "expr": target.scope(q, since="7s")}
        for rb in load_runbooks(RUNBOOKS)
        for i, q in enumerate(rb.verification.promql)
    ]
    file = tmp_path / "verify.yml"
    file.write_text(yaml.safe_dump({"groups": [{"name": "verify", "rules": rules}]}))
    done = subprocess.run(
        ["promtool", "check", "rules", str(file)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            GOOD.format(id="x").replace("escalate_when: never", "escalate_when: never\nsurprise: 1"),
            "surprise",
        ),
        ("# no front matter\n", "no YAML front matter"),
        ("---\nid: [unclosed\n---\n", "not valid YAML"),
        (GOOD.format(id="x").replace("latency_p95_seconds", "p95 latency"), "bad signal name 'p95 latency'"),
        (GOOD.format(id="x").replace('op: ">="', 'op: "=~"'), "signals.0.op"),
        (GOOD.format(id="other"), "does not match the file name"),
        (GOOD.format(id="x").replace("risk: medium", "risk: spicy"), "actions.0.risk"),
        (GOOD.format(id="x").replace('"target_up$selector == 1"', '""'), "verification.promql.0"),
    ],
)
def test_bad_front_matter_names_file_and_reason(tmp_path: Path, text: str, reason: str) -> None:
    (tmp_path / "x.md").write_text(text)
    with pytest.raises(RunbookError) as caught:
        load_runbooks(tmp_path)
    assert caught.value.path == tmp_path / "x.md"
    assert reason in caught.value.reason
    assert "x.md" in str(caught.value)


def test_a_signal_no_pack_or_probe_gives_is_named_with_the_file(tmp_path: Path) -> None:
    (tmp_path / "x.md").write_text(GOOD.format(id="x").replace("latency_p95_seconds", "p95_latency"))
    (runbook,) = load_runbooks(tmp_path)
    with pytest.raises(RunbookError) as caught:
        check_signals(runbook, lab_catalog().signal_names())
    assert (
        caught.value.path == tmp_path / "x.md" and "unknown signal(s) ['p95_latency']" in caught.value.reason
    )


def test_proposed_and_readme_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(GOOD.format(id="a"))
    (tmp_path / "README.md").write_text("# How to write runbooks\n")
    (tmp_path / "proposed").mkdir()
    (tmp_path / "proposed" / "b.md").write_text("not even front matter")
    assert [rb.id for rb in load_runbooks(tmp_path)] == ["a"]


def test_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RunbookError, match="does not exist"):
        load_runbooks(tmp_path / "nope")
