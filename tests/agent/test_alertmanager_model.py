"""The webhook model against Alertmanager v4 payloads as Alertmanager sends them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agent.intake.alertmanager import WebhookNotification

FIRING = {
    "receiver": "sre-agent",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "TargetDbPoolExhausted", "service": "target", "severity": "critical"},
            "annotations": {
                "summary": "DB pool exhausted",
                "description": "waiting > 0 for 1m",
                "runbook_url": "runbooks/db-pool-exhaustion.md",
            },
            "startsAt": "2026-11-24T10:00:00.123456789Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=target_db_pool_waiting+%3E+0",
            "fingerprint": "5f1c8d3a2b4e6f70",
        }
    ],
    "groupLabels": {"service": "target"},
    "commonLabels": {"alertname": "TargetDbPoolExhausted", "service": "target", "severity": "critical"},
    "commonAnnotations": {"summary": "DB pool exhausted"},
    "externalURL": "http://127.0.0.1:9093",
    "version": "4",
    "groupKey": '{}:{service="target"}',
    "truncatedAlerts": 0,
}


def test_firing_notification() -> None:
    n = WebhookNotification.model_validate(FIRING)
    assert n.status == "firing" and n.commonLabels["service"] == "target"
    alert = n.alerts[0]
    assert alert.name == "TargetDbPoolExhausted" and alert.status == "firing"
    assert alert.dedup_key().startswith("5f1c8d3a2b4e6f70|2026-11-24T10:00:00.123456")
    summary = alert.summary()
    assert summary.severity == "critical" and summary.annotations["summary"] == "DB pool exhausted"


def test_resolved_notification_reads_status_not_ends_at() -> None:
    resolved = {
        **FIRING,
        "status": "resolved",
        "alerts": [{**FIRING["alerts"][0], "status": "resolved", "endsAt": "2026-11-24T10:05:00Z"}],
    }
    n = WebhookNotification.model_validate(resolved)
    assert n.alerts[0].status == "resolved"
    # a firing alert with a future endsAt is still firing
    future = {**FIRING, "alerts": [{**FIRING["alerts"][0], "endsAt": "2099-01-01T00:00:00Z"}]}
    assert WebhookNotification.model_validate(future).alerts[0].status == "firing"
    assert n.alerts[0].dedup_key() != WebhookNotification.model_validate(FIRING).alerts[0].dedup_key()


def test_unknown_fields_are_ignored_and_truncated_alerts_read() -> None:
    payload = {
        **FIRING,
        "notification_reason": "repeat",
        "routeLabels": {"x": "y"},
        "truncatedAlerts": 3,
        "alerts": [{**FIRING["alerts"][0], "silenceURL": "http://am/#/silences/new"}],
    }
    n = WebhookNotification.model_validate(payload)
    assert n.truncatedAlerts == 3
    assert not hasattr(n, "notification_reason")


@pytest.mark.parametrize(
    "broken",
    [
        {**FIRING, "status": "pending"},
        {**FIRING, "alerts": []},
        {key: value for key, value in FIRING.items() if key != "alerts"},
        {**FIRING, "alerts": [{**FIRING["alerts"][0], "labels": "not a dict"}]},
        {**FIRING, "truncatedAlerts": -1},
    ],
)
def test_malformed_payloads_are_rejected(broken: dict) -> None:
    with pytest.raises(ValidationError):
        WebhookNotification.model_validate(broken)
