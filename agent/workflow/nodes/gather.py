"""gather: read what an on-call engineer would look at for the incident's service and turn it into
`Symptoms`: its catalog entry's signal packs (PromQL scoped by its selector) and probes, its error logs,
the alerts' labels and annotations."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

from agent.domain.signals import Symptoms
from agent.workflow.deps import WorkflowDeps
from agent.workflow.looking import look
from agent.workflow.state import AgentState


async def node(state: AgentState, config: RunnableConfig, *, deps: WorkflowDeps) -> dict[str, Any]:
    incident = await deps.store.get(state["incident_id"])
    await deps.set_step(incident.id, "gather", "diagnosing")
    symptoms, evidence = await look(deps, incident)
    entry = await deps.record(
        incident.id,
        "gather",
        _summary(symptoms),
        {
            "gaps": symptoms.gaps,
            "signals": {name: r.value for name, r in sorted(symptoms.signals.items())},
            "log_error_signatures": symptoms.log_error_signatures,
            "failing_checks": symptoms.failing_checks,
        },
    )
    return {
        "symptoms": symptoms.model_dump(mode="json"),
        "looks": int(state.get("looks") or 0) + 1,
        "first_look_at": state.get("first_look_at") or entry["ts"],
        "evidence": {"signals": evidence},
        "alerts": [a.model_dump(mode="json") for a in incident.alerts],
        "timeline": [entry],
    }


def _summary(s: Symptoms) -> str:
    up = s.value("up")
    parts = [
        f"{s.service or 'service'} {'unreachable' if up is False else 'answering' if up else 'state unknown'}"
    ]
    errors = s.value("error_ratio")
    if isinstance(errors, float):
        parts.append(f"errors={errors:.1%}")
    if s.failing_checks:
        parts.append(f"failing={','.join(s.failing_checks)}")
    if s.log_error_count:
        parts.append(f"error_logs={s.log_error_count}")
    if s.tags:
        parts.append(f"pattern={','.join(sorted(s.tags))}")
    if s.gaps:
        parts.append(f"unread={','.join(s.gaps)}")
    return "symptoms gathered: " + " ".join(parts)
