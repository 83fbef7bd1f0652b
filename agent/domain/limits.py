"""Bounds on what senders control: one alert's fields, one notification's text, one incident's alerts.

The defaults here are the settings' defaults (`agent.config.Settings` names each one); the app builds
these from its settings, and code that gets none (a test's alert, a trigger's) uses the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AlertLimits:
    """Labels and annotations per alert, and the free text of a notification, cut with a mark."""

    max_pairs: int = 64  # labels (and annotations) per alert, the ones the agent reads first kept
    max_key_chars: int = 128
    max_label_chars: int = 1024
    max_annotation_chars: int = 8192
    max_alert_chars: int = 32768  # one alert's labels and annotations together
    max_group_key_chars: int = 1024
    max_text_chars: int = 2048  # receiver, externalURL, generatorURL
    max_fingerprint_chars: int = 64


@dataclass(frozen=True)
class IncidentLimits:
    """How far an open incident grows: past these it keeps the most relevant alerts and counts the rest."""

    max_alerts: int = 100
    max_fingerprints: int = 1000

    @property
    def max_keys(self) -> int:
        """Alert keys remembered (fingerprint|startsAt|status): a few states of each fingerprint."""
        return 2 * self.max_fingerprints
