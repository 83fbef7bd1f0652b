"""docs/alertmanager.md says what the code does: its settings and defaults, alert names and metrics."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from agent.config import Settings
from agent.paging.alerts import AGENT_ALERT_NAMES
from agent.telemetry.metrics import AgentMetrics

PAGE = (Path(__file__).resolve().parents[3] / "docs" / "alertmanager.md").read_text()
# What the page shows instead of an empty default: where the value then comes from.
FALLBACKS = {"EXTERNAL_URL": "`http://HOST:PORT`", "AGENT_ALERTS_URL": "`ALERTMANAGER_URL`"}


def test_the_settings_table_is_the_settings_object() -> None:
    rows = re.findall(r"^\| `([A-Z_]+)` \| ([^|]+) \|", PAGE, re.MULTILINE)
    assert len(rows) == 7
    for name, shown in rows:
        default = Settings.model_fields[name].default
        expected = FALLBACKS.get(name) or (
            f"`{str(default).lower()}`" if isinstance(default, bool) else f"{default:g}"
        )
        assert shown.strip() == expected, name


def test_the_alerts_and_metrics_it_names_exist() -> None:
    assert {name for name in AGENT_ALERT_NAMES if f"`{name}`" in PAGE} == AGENT_ALERT_NAMES
    registry = CollectorRegistry()
    AgentMetrics(registry)
    known = {metric.name for metric in registry.collect()} | {f"{m.name}_total" for m in registry.collect()}
    named = set(re.findall(r"`(sre_agent_[a-z_]+)", PAGE))
    assert named and named <= known, named - known
