"""What the agent's own alerts say: the labels people's routes match, the annotations they read, and
links that open (absolute, from the agent's EXTERNAL_URL).

Labels: the incident's alerts' common labels (`alertname` aside: the agent's alert has its own), the
incident's service, the catalog entry's escalation labels over them (`team: payments`), then
`alertname` and `incident`, which nothing overrides: one alert per incident and kind, so two incidents
of one service page and resolve apart. Approval requests carry the same labels: they go to the
same people. Names Alertmanager would refuse are left out (one bad label
fails the whole POST) and everything is bounded as the agent bounds what it receives (`AlertLimits`).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel

from agent.clients.alertmanager import PostableAlert
from agent.domain.limits import AlertLimits
from agent.incidents.models import Incident, utcnow
from agent.intake.alertmanager import bounded, cut, size

ESCALATED = "SREAgentEscalated"
APPROVAL_NEEDED = "SREAgentApprovalNeeded"
AGENT_ALERT_NAMES = frozenset({ESCALATED, APPROVAL_NEEDED})
SUMMARY_CHARS = 300  # a notification's title; the rest is in the description
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")  # Alertmanager 0.25's label names
_RESERVED = ("alertname", "incident")

Kind = Literal["escalated", "approval"]


class AgentAlert(BaseModel):
    """One of the agent's alerts as it keeps it: posted while `ends_at` is None, posted once more as
    resolved when it is set. `watch`: the labels its incident's alerts share, to ask Alertmanager whether
    they still fire."""

    kind: Kind
    incident_id: str
    labels: dict[str, str]
    annotations: dict[str, str]
    generator_url: str
    watch: dict[str, str] = {}
    starts_at: datetime
    ends_at: datetime | None = None

    @property
    def key(self) -> str:
        return f"{self.incident_id}/{self.kind}"

    @property
    def alertname(self) -> str:
        return self.labels["alertname"]

    def postable(self, now: datetime, hold: timedelta) -> PostableAlert:
        """Firing until `now + hold` (re-posted before then while it holds), or resolved at `ends_at`."""
        return PostableAlert(
            labels=self.labels,
            annotations=self.annotations,
            startsAt=self.starts_at,
            endsAt=self.ends_at or now + hold,
            generatorURL=self.generator_url,
        )


@dataclass(frozen=True)
class Links:
    """Absolute links into the agent for people: `base` is its EXTERNAL_URL."""

    base: str

    def incident(self, incident_id: str) -> str:
        return f"{self.base}/agent/incidents/{incident_id}"

    def runbook(self, runbook_id: str) -> str:
        return f"{self.base}/agent/runbooks/{runbook_id}.md"

    def decision(self, incident_id: str, verb: Literal["approve", "reject"]) -> str:
        """The API call, ready to paste: the token is the reader's own `$API_TOKEN`, never in the alert."""
        body = shlex.quote('{"by": "your-name", "comment": ""}')
        return (
            'curl -X POST -H "Authorization: Bearer $API_TOKEN" -H "Content-Type: application/json" '
            f"-d {body} {self.incident(incident_id)}/{verb}"
        )


def common_labels(incident: Incident) -> dict[str, str]:
    """The label values every alert of the incident has (firing ones when there are any), alertname aside."""
    alerts = [a for a in incident.alerts if a.status == "firing"] or list(incident.alerts)
    if not alerts:
        return {}
    shared = dict(alerts[0].labels)
    for alert in alerts[1:]:
        shared = {k: v for k, v in shared.items() if alert.labels.get(k) == v}
    shared.pop("alertname", None)
    return shared


def routing_labels(incident: Incident, alertname: str, escalation: dict[str, str]) -> dict[str, str]:
    """Common labels, the service, the catalog entry's escalation labels over them, then the agent's own."""
    labels = common_labels(incident)
    if incident.service:
        labels["service"] = incident.service
    labels |= escalation
    labels = {k: v for k, v in labels.items() if _LABEL_NAME.match(k) and v and k not in _RESERVED}
    return {**labels, "alertname": alertname, "incident": incident.id}


def escalation_alert(
    incident: Incident,
    links: Links,
    limits: AlertLimits,
    escalation: dict[str, str],
    recommendation: str = "",
) -> AgentAlert:
    service = incident.service or "alerts no service owns"
    reason = incident.escalation_reason or "the agent handed this incident to a person"
    diagnosis = _diagnosis(incident)
    tried = ", ".join(f"{a.action} ({a.status})" for a in incident.actions) or "none"
    description = [
        f"The agent handed incident {incident.id} of {service} to a person: {reason}.",
        f"Diagnosis: {diagnosis}.",
        f"Actions: {tried}.",
        f"Alerts: {', '.join(sorted({a.name for a in incident.alerts})) or 'none'}.",
    ]
    if recommendation:
        description.append(f"Look first at: {recommendation}")
    description.append(f"The incident, its timeline and report: {links.incident(incident.id)}")
    annotations = {
        "summary": cut(f"{service}: needs a person: {reason}", SUMMARY_CHARS),
        "description": "\n".join(description),
        "diagnosis": diagnosis,
        "incident_url": links.incident(incident.id),
        **_runbook(incident, links),
    }
    return _alert("escalated", ESCALATED, incident, annotations, links, limits, escalation)


def approval_alert(
    incident: Incident,
    planned: dict[str, Any],
    why: str,
    links: Links,
    limits: AlertLimits,
    escalation: dict[str, str],
) -> AgentAlert:
    service = incident.service or "unknown service"
    action = str(planned.get("action", "an action"))
    params = planned.get("params") or {}
    call = f"{action} {params}" if params else action
    description = [
        f"The agent wants to run {call} (risk {planned.get('risk', 'unknown')}) on {service} for incident "
        f"{incident.id}, and waits for a person: {why or 'approval required'}.",
        f"Diagnosis: {_diagnosis(incident)}.",
        f"Approve: {links.decision(incident.id, 'approve')}",
        f"Reject: {links.decision(incident.id, 'reject')}",
        f"The incident and its evidence: {links.incident(incident.id)}",
    ]
    annotations = {
        "summary": cut(f"{service}: approve {action}? ({_diagnosis_id(incident)})", SUMMARY_CHARS),
        "description": "\n".join(description),
        "diagnosis": _diagnosis(incident),
        "incident_url": links.incident(incident.id),
        "approve": links.decision(incident.id, "approve"),
        "reject": links.decision(incident.id, "reject"),
        **_runbook(incident, links),
    }
    return _alert("approval", APPROVAL_NEEDED, incident, annotations, links, limits, escalation)


def _alert(
    kind: Kind,
    alertname: str,
    incident: Incident,
    annotations: dict[str, str],
    links: Links,
    limits: AlertLimits,
    escalation: dict[str, str],
) -> AgentAlert:
    routing = routing_labels(incident, alertname, escalation)
    labels = bounded(routing, limits.max_label_chars, limits, limits.max_alert_chars)
    labels |= {"alertname": alertname, "incident": cut(incident.id, limits.max_label_chars)}
    room = limits.max_alert_chars - size(labels)
    return AgentAlert(
        kind=kind,
        incident_id=incident.id,
        labels=labels,
        annotations=bounded(annotations, limits.max_annotation_chars, limits, room),
        generator_url=cut(links.incident(incident.id), limits.max_text_chars),
        watch=common_labels(incident),
        starts_at=utcnow(),
    )


def _diagnosis_id(incident: Incident) -> str:
    return incident.diagnosis_id or "unknown"


def _diagnosis(incident: Incident) -> str:
    found = incident.diagnosis
    if found is None or not found.is_known:
        return "unknown"
    text = f"{found.diagnosis_id} (confidence {found.confidence:.2f})"
    return f"{text}: {found.root_cause}" if found.root_cause else text


def _runbook(incident: Incident, links: Links) -> dict[str, str]:
    """The diagnosis's runbook as the agent serves it; else the first absolute link an alert carried."""
    if incident.diagnosis is not None and incident.diagnosis.is_known:
        return {"runbook_url": links.runbook(incident.diagnosis.diagnosis_id)}
    for alert in incident.alerts:
        url = alert.annotations.get("runbook_url", "")
        if url.startswith(("http://", "https://")):
            return {"runbook_url": url}
    return {}
