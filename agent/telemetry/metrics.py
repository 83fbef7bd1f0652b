"""`sre_agent_*` metrics on a registry the app factory creates (tests use a fresh one each).

Labels are bounded: services come from the service catalog, diagnosis ids from runbook files
(+ "unknown"), actions from the catalog, steps from the graph, results and reasons from small fixed
sets. Never ids or free text.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

MITIGATE_BUCKETS = (10, 30, 60, 120, 180, 300, 600, 900, 1800, 3600)
CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
# From an idle loop (under 1 ms) to one blocked long enough that Alertmanager's webhook would time out.
EVENT_LOOP_LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class AgentMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.incidents_total = Counter(
            "sre_agent_incidents_total",
            "Incidents finished, by service, diagnosis and outcome",
            ["service", "diagnosis", "outcome"],
            registry=registry,
        )
        self.incidents_open = Gauge(
            "sre_agent_incidents_open", "Incidents not yet finished", registry=registry
        )
        self.time_to_mitigate = Histogram(
            "sre_agent_time_to_mitigate_seconds",
            "From incident open to verified recovery",
            ["service", "diagnosis"],
            buckets=MITIGATE_BUCKETS,
            registry=registry,
        )
        self.actions_total = Counter(
            "sre_agent_actions_total",
            "Actions sent to the services' action backends, by result",
            ["service", "action", "result"],
            registry=registry,
        )
        self.diagnosis_confidence = Histogram(
            "sre_agent_diagnosis_confidence",
            "Confidence of each diagnosis",
            ["diagnosis"],
            buckets=CONFIDENCE_BUCKETS,
            registry=registry,
        )
        self.llm_calls_total = Counter(
            "sre_agent_llm_calls_total", "LLM diagnosis calls", ["result"], registry=registry
        )
        self.llm_tokens_total = Counter(
            "sre_agent_llm_tokens_total", "LLM tokens used", ["kind"], registry=registry
        )
        self.llm_fallbacks_total = Counter(
            "sre_agent_llm_fallbacks_total",
            "Falls back to the deterministic diagnoser",
            ["reason"],
            registry=registry,
        )
        self.webhook_requests_total = Counter(
            "sre_agent_webhook_requests_total",
            "Alertmanager webhook requests by result",
            ["result"],
            registry=registry,
        )
        self.webhook_alerts_dropped_total = Counter(
            "sre_agent_webhook_alerts_dropped_total",
            "Alerts left out of notifications over WEBHOOK_MAX_ALERTS (the notification itself is kept)",
            registry=registry,
        )
        self.incidents_pruned_total = Counter(
            "sre_agent_incidents_pruned_total",
            "Finished incidents deleted by retention (INCIDENT_RETENTION_DAYS, INCIDENT_RETENTION_MAX)",
            registry=registry,
        )
        self.request_bodies_refused_total = Counter(
            "sre_agent_request_bodies_refused_total",
            "Requests answered 413: body over MAX_REQUEST_BODY_BYTES",
            registry=registry,
        )
        self.intake_coalesced_total = Counter(
            "sre_agent_intake_coalesced_total",
            "Notifications that took the place of their group's one still waiting for the intake worker",
            registry=registry,
        )
        self.queue_depth = Gauge(
            "sre_agent_queue_depth", "Notifications waiting for the intake worker", registry=registry
        )
        self.remediation_enabled = Gauge(
            "sre_agent_remediation_enabled", "1 when the kill switch allows remediation", registry=registry
        )
        self.circuit_breaker_open = Gauge(
            "sre_agent_circuit_breaker_open",
            "1 while an action's circuit breaker is open on a service",
            ["service", "action"],
            registry=registry,
        )
        self.knowledge_fallbacks_total = Counter(
            "sre_agent_knowledge_fallbacks_total",
            "Knowledge store calls Weaviate could not answer, served by the embedded store",
            ["operation"],
            registry=registry,
        )
        self.alerts_unowned_total = Counter(
            "sre_agent_alerts_unowned_total",
            "Alerts no catalog service owns (or several do), or the agent's own sent back: never acted on",
            ["reason"],
            registry=registry,
        )
        self.follow_ups_open = Gauge(
            "sre_agent_follow_ups_open",
            "Mitigations that worked but hide a cause still there, waiting for a person",
            ["service", "diagnosis"],
            registry=registry,
        )
        self.alertmanager_requests_total = Counter(
            "sre_agent_alertmanager_requests_total",
            "Requests to Alertmanager's API for the agent's own alerts and silences, by operation and result",
            ["operation", "result"],
            registry=registry,
        )
        self.agent_alerts_firing = Gauge(
            "sre_agent_alerts_firing",
            "The agent's own alerts it keeps firing at Alertmanager (escalations, approval requests)",
            ["alertname"],
            registry=registry,
        )
        self.silences_held = Gauge(
            "sre_agent_silences_held",
            "Alertmanager silences the agent holds on incidents' alerts while it verifies fixes",
            registry=registry,
        )
        self.event_loop_lag = Histogram(
            "sre_agent_event_loop_lag_seconds",
            "How much later than asked the event loop woke a task sleeping EVENT_LOOP_LAG_INTERVAL_SECONDS: "
            "the time it spent on other work first",
            buckets=EVENT_LOOP_LAG_BUCKETS,
            registry=registry,
        )
        self.workflow_steps_total = Counter(
            "sre_agent_workflow_steps_total", "Workflow node executions", ["step"], registry=registry
        )

    def start_at_zero(self, services: list[str], diagnoses: list[str]) -> None:
        """Every service's and diagnosis's incident and time-to-mitigate series exist at 0 from start-up:
        a series born at its first observation has no earlier sample, so `increase()` reads it as no
        change and the mean time to mitigate of a fresh install would be NaN."""
        for reason in ("no_owner", "several_owners", "agent_alert"):
            self.alerts_unowned_total.labels(reason=reason)
        for operation in ("post_alerts", "read_alerts", "create_silence", "expire_silence"):
            for result in ("ok", "error"):
                self.alertmanager_requests_total.labels(operation=operation, result=result)
        for service in services:
            for diagnosis in [*diagnoses, "unknown"]:
                for outcome in ("resolved", "escalated", "failed"):
                    self.incidents_total.labels(service=service, diagnosis=diagnosis, outcome=outcome)
                self.time_to_mitigate.labels(service=service, diagnosis=diagnosis)
