"""What "fixed" means for one incident, asked of the service now: the runbook's own checks (PromQL
scoped to the service, conditions on its signals) and which of the service's alerts fire.

Execute asks the runbook's checks once before the action too: checks that already held before the fix
cannot show that it worked, so such a fix is verified only when every alert of the incident has stopped.

`$since` in a check is a range that starts at the fix: how long ago it was, in whole seconds, so a
`rate(...[$since])` reads only samples taken after it (too few yet: an empty answer, not held). Before
the action it is the service's settle window, what its alerts look at. Conditions on signals are read
the same way after the fix: the signals' rate windows (`$window`) cut to the time since it.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

from agent.catalog.catalog import Service
from agent.domain.signals import compare
from agent.signals.reader import read_symptoms
from agent.workflow.deps import WorkflowDeps

_ALERT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class OwnChecks:
    """`ok`: all held; `unavailable`: Prometheus could not answer any (no verdict); `ran`: there were any;
    `passed`: each check (a query, a condition) and whether it held."""

    ok: bool
    ran: bool
    unavailable: bool = False
    details: dict[str, Any] = field(default_factory=dict)
    passed: dict[str, bool] = field(default_factory=dict)

    def progress(self, before: dict[str, bool]) -> set[str]:
        """Checks that failed before the action and hold now: the action changed something."""
        return {check for check, held in self.passed.items() if held and before.get(check) is False}


DEFAULT_WINDOW_SECONDS = 300.0  # `$since` before a fix, for a service with no window of its own


async def own_checks(
    deps: WorkflowDeps, service: Service, spec: Any, since_fix: float | None = None
) -> OwnChecks:
    """`since_fix`: seconds since the fix, None before it."""
    window = since_fix if since_fix is not None else (service.settle_seconds or DEFAULT_WINDOW_SECONDS)
    since = f"{max(1, int(window))}s"
    # Each check is named by its query with `$since` left in: the same name before and after the fix.
    queries = {service.scope(q): service.scope(q, since=since) for q in getattr(spec, "promql", None) or []}
    conditions = list(getattr(spec, "signals", None) or [])
    if not queries and not conditions:
        return OwnChecks(ok=False, ran=False)
    results = await asyncio.gather(*(deps.prometheus.query(q) for q in queries.values()))
    named = list(zip(queries, results, strict=True))
    details: dict[str, Any] = {name: (r.error or len(r.samples)) for name, r in named}
    passed = {name: bool(r.ok and r.samples) for name, r in named}
    ok = all(passed.values())
    unavailable = bool(results) and all(r.unavailable for r in results)
    if conditions:
        looked = service.since(since_fix) if since_fix is not None else service
        symptoms, _ = await read_symptoms(looked, deps.sources(service), only={c.signal for c in conditions})
        for condition in conditions:
            observed = symptoms.value(condition.signal)
            held = compare(observed, condition.op, condition.value) is True
            name = f"{condition.signal} {condition.op} {condition.value}"
            details[name], passed[name] = observed, held
            ok = ok and held
        unavailable = unavailable or (not queries and "prometheus" in symptoms.gaps and not symptoms.signals)
    return OwnChecks(ok=ok, ran=True, unavailable=unavailable, details=details, passed=passed)


async def alerts_firing(deps: WorkflowDeps, service: Service) -> set[str] | None:
    """Names of the service's alerts firing in Prometheus now (`ALERTS`, by its `owns` matchers);
    None when Prometheus could not say."""
    selectors = service.alerts_selectors('alertstate="firing"')
    results = await asyncio.gather(*(deps.prometheus.query(f"ALERTS{s}") for s in selectors))
    if any(not r.ok for r in results):
        return None
    return {
        name
        for r in results
        for s in r.samples
        if _ALERT_NAME.match(name := s.metric.get("alertname", "")) is not None
    }
