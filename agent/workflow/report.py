"""The Markdown incident report: what was seen, what the agent concluded and did, what a human should do.

Every value that came from outside (alert labels and annotations, what the service's logs and checks said,
the model's words, an action server's answer) goes in through `agent.markdown.inline`, so the report
renders as text, whoever wrote it; the runbook's own words (its escalation advice, its follow-up notes)
are the team's Markdown and go in as they are.
"""

from __future__ import annotations

from agent.incidents.models import Incident
from agent.markdown import inline


def render_report(incident: Incident, recommendation: str = "") -> str:
    d = incident.diagnosis
    lines = [f"# Incident {incident.id}: {incident.status}", ""]
    lines += [
        f"- service: {inline(incident.service)}",
        f"- source: {incident.source}",
        f"- opened: {incident.opened_at.isoformat()}",
    ]
    if incident.mitigated_at:
        minutes = (incident.mitigated_at - incident.opened_at).total_seconds()
        lines.append(f"- mitigated: {incident.mitigated_at.isoformat()} ({minutes:.0f}s after opening)")
    if incident.closed_at:
        lines.append(f"- closed: {incident.closed_at.isoformat()}")
    lines += ["", "## What was seen", ""]
    lines += [
        f"- alert {inline(a.name)} ({a.status}, {inline(a.severity)}): "
        f"{inline(a.annotations.get('summary', ''))}".rstrip(": ")
        for a in incident.alerts
    ] or [f"- {inline(incident.reason) or 'no alert (manual or monitor trigger)'}"]
    gather = next((e for e in incident.timeline if e.step == "gather"), None)
    if gather:
        lines.append(f"- {inline(gather.message)}")
    lines += ["", "## Diagnosis", ""]
    if d is None:
        lines.append("No diagnosis was made.")
    else:
        lines.append(
            f"**{inline(d.diagnosis_id)}** (confidence {d.confidence:.2f}, {d.source}). "
            f"{inline(d.root_cause)}".rstrip()
        )
        lines += [f"- {inline(line)}" for line in d.evidence]
    checks = incident.investigation.get("checks", [])
    if checks:
        lines += ["", "### Investigation", ""]
        lines += [
            f"- [{'x' if c.get('passed') else ' '}] {inline(c.get('name'))}: {inline(c.get('detail', ''))}"
            for c in checks
        ]
    lines += ["", "## What was tried", ""]
    lines += [
        f"- {inline(a.action)} {inline(a.params or '')} → {a.status}"
        + (f" ({inline(a.error)})" if a.error else "")
        for a in incident.actions
    ] or ["- nothing"]
    for v in incident.verification:
        lines.append(f"- verification ({v.method}, attempt {v.attempt}): {inline(v.detail)}")
    lines += ["", "## Result", ""]
    if incident.status == "resolved" and incident.follow_ups:
        lines.append("Recovery verified; the mitigation hides a cause that is still there (below).")
        lines += ["", "## Follow-ups", ""]
        lines += [
            f"- [{'x' if f.status == 'closed' else ' '}] after {inline(f.action)}: {f.note}"
            for f in incident.follow_ups
        ]
    elif incident.status == "resolved":
        lines.append("Recovery verified; no human action needed beyond a review.")
    elif incident.status == "merged":
        lines.append(
            f"The same problem as {incident.merged_into}: its alerts were merged into that incident."
        )
    else:
        lines.append(f"Handed to a human: {inline(incident.escalation_reason or 'see timeline')}.")
        if incident.escalation_labels:
            routing = ", ".join(f"{k}={v}" for k, v in sorted(incident.escalation_labels.items()))
            lines.append(f"Routing labels: {inline(routing)}.")
        lines += ["", "## What a human should look at", ""]
        if recommendation:
            lines.append(recommendation)
        lines += [f"- evidence: {inline(line)}" for line in (d.evidence if d else [])[:5]]
    return "\n".join(lines) + "\n"
