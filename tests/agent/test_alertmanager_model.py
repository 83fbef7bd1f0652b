"""The webhook model against Alertmanager v4 payloads as Alertmanager sends them."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from agent.domain.limits import AlertLimits
from agent.intake.alertmanager import CUT, WebhookNotification, _fits, size

from .agent_testkit import FIRING


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


def test_the_settings_limits_cut_an_alert_with_a_mark_instead_of_refusing_it() -> None:
    """Alertmanager drops a notification answered 4xx for good: oversized text is cut, never refused."""
    limits = AlertLimits(max_pairs=8, max_label_chars=100, max_annotation_chars=300, max_alert_chars=1200)
    alert = FIRING["alerts"][0]
    labels = {**alert["labels"], **{f"l{n}": "v" * 500 for n in range(20)}}
    annotations = {"description": "d" * 5000, "summary": "s" * 5000, "more": "m" * 5000}
    body = {
        **FIRING,
        "alerts": [{**alert, "labels": labels, "annotations": annotations, "fingerprint": "f" * 500}],
    }
    (bounded,) = WebhookNotification.model_validate_json(json.dumps(body), context=limits).alerts
    assert len(bounded.labels) == 8 and bounded.labels["alertname"] == "TargetDbPoolExhausted"  # read first
    assert all(len(v) <= 100 for v in bounded.labels.values()) and bounded.labels["l0"].endswith(CUT)
    assert list(bounded.annotations)[:2] == ["summary", "description"]
    assert size(bounded.labels) + size(bounded.annotations) <= 1200
    assert bounded.fingerprint.startswith("sha256:")
    twin = {**body, "alerts": [{**body["alerts"][0], "fingerprint": "f" * 499 + "g"}]}
    other = WebhookNotification.model_validate_json(json.dumps(twin), context=limits).alerts[0]
    assert other.fingerprint != bounded.fingerprint  # two long fingerprints stay two alerts
    untouched = WebhookNotification.model_validate_json(json.dumps(FIRING), context=limits).alerts[0]
    assert untouched.labels == alert["labels"] and untouched.fingerprint == alert["fingerprint"]


@pytest.mark.parametrize(
    "alert",
    [{"endsAt": 0}, {"startsAt": 1700000000}, {"startsAt": "1700000000"}, {"endsAt": "yesterday"}],
)
def test_timestamps_are_rfc_3339_text(alert: dict) -> None:
    body = {**FIRING, "alerts": [{**FIRING["alerts"][0], **alert}]}
    with pytest.raises(ValidationError, match="RFC 3339"):
        WebhookNotification.model_validate_json(json.dumps(body))


@given(
    st.dictionaries(st.text(max_size=12), st.text(max_size=12), max_size=6),
    st.integers(1, 40),
    st.integers(1, 12),
    st.integers(1, 80),
)
def test_labels_fit_exactly_when_every_bound_holds(
    pairs: dict[str, str], value_limit: int, key_limit: int, budget: int
) -> None:
    """`_fits` looks at the longest key or value only when the totals are over a limit: the same answer."""
    limits = AlertLimits(max_pairs=4, max_key_chars=key_limit)
    every_bound = (
        len(pairs) <= 4
        and all(len(v) <= value_limit for v in pairs.values())
        and all(len(k) <= key_limit for k in pairs)
        and size(pairs) <= budget
    )
    assert _fits(pairs, value_limit, limits, budget) == every_bound
