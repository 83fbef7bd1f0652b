"""The shipped runbooks load and validate; a broken one names its file and the reason."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from agent.knowledge.runbooks import RunbookError, load_runbooks

RUNBOOKS = Path(__file__).resolve().parents[3] / "runbooks"
DIAGNOSES = {
    "target-down",
    "db-pool-exhaustion",
    "db-lock-contention",
    "memory-leak",
    "cpu-saturation",
    "bad-release",
    "dependency-outage",
    "traffic-surge",
    "disk-full",
}
CATALOG = {
    "restart-target",
    "remediate-db-pool-exhaustion",
    "kill-blocking-queries",
    "rollback-release",
    "enable-dependency-fallback",
    "enable-rate-limit",
    "clean-disk",
}
GOOD = """---
id: {id}
title: A test runbook
alerts: [TargetHighLatency]
signals:
  - {{signal: p95_latency_ms, op: ">=", value: 500, weight: 2, description: "p95 latency"}}
actions:
  - {{action: restart-target, params: {{}}, risk: medium}}
verification:
  promql: ["target_up == 1"]
escalate_when: never
---
# Body
"""


def test_every_diagnosis_has_a_valid_runbook() -> None:
    runbooks = load_runbooks(RUNBOOKS)
    assert {rb.id for rb in runbooks} == DIAGNOSES
    for rb in runbooks:
        assert rb.actions, rb.id
        assert set(rb.action_names) <= CATALOG, rb.id
        assert rb.checks, rb.id
        assert all("target_" in q for q in rb.verification.promql), rb.id
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
        "restart-target",
    ]
    assert pool[1].params["escalate_to_db_restart"] is True
    surge = by_id["traffic-surge"].actions[0]
    assert surge.resolve_params({"baseline_rps": 10.0}) == {"requests_per_second": 20.0}
    assert surge.resolve_params({"baseline_rps": None}) == {}  # the catalog default applies
    for no_restart in ("db-lock-contention", "bad-release", "dependency-outage", "disk-full"):
        assert "restart-target" not in by_id[no_restart].action_names


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_verification_promql_parses(tmp_path: Path) -> None:
    rules = [
        {"record": f"verify:{rb.id.replace('-', '_')}:{i}", "expr": q}
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
        (GOOD.format(id="x").replace("p95_latency_ms", "p95_latency"), "unknown signal 'p95_latency'"),
        (GOOD.format(id="x").replace('op: ">="', 'op: "=~"'), "signals.0.op"),
        (GOOD.format(id="other"), "does not match the file name"),
        (GOOD.format(id="x").replace("risk: medium", "risk: spicy"), "actions.0.risk"),
        (GOOD.format(id="x").replace('"target_up == 1"', ""), "verification.promql"),
    ],
)
def test_bad_front_matter_names_file_and_reason(tmp_path: Path, text: str, reason: str) -> None:
    (tmp_path / "x.md").write_text(text)
    with pytest.raises(RunbookError) as caught:
        load_runbooks(tmp_path)
    assert caught.value.path == tmp_path / "x.md"
    assert reason in caught.value.reason
    assert "x.md" in str(caught.value)


def test_proposed_and_readme_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text(GOOD.format(id="a"))
    (tmp_path / "README.md").write_text("# How to write runbooks\n")
    (tmp_path / "proposed").mkdir()
    (tmp_path / "proposed" / "b.md").write_text("not even front matter")
    assert [rb.id for rb in load_runbooks(tmp_path)] == ["a"]


def test_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RunbookError, match="does not exist"):
        load_runbooks(tmp_path / "nope")
