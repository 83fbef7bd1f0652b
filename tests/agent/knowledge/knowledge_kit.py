"""What the knowledge store tests share: the real runbooks folder and a finished incident to remember."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from agent.knowledge.embedder import Embedder
from agent.knowledge.store import IncidentMemory

RUNBOOKS = Path(__file__).resolve().parents[3] / "runbooks"
REWORDED = {  # how a person might put it, sharing no word (after tokenize) with the runbook
    "the storage volume ran out of room": "disk-full",
    "processor pegged at full utilisation": "cpu-saturation",
}


def memory(incident_id: str, text: str, diagnosis: str = "disk-full") -> IncidentMemory:
    return IncidentMemory(
        incident_id=incident_id,
        symptoms_text=text,
        diagnosis_id=diagnosis,
        outcome="resolved",
        actions_tried=["clean-disk"],
        actions_worked=["clean-disk"],
        time_to_mitigate_seconds=42.5,
    )


class CountingEmbedder:
    """The real embedder, counting the texts it is asked to embed."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.texts: list[str] = []

    def embed(self, texts: list[str]) -> NDArray[np.float32]:
        self.texts += texts
        return self.inner.embed(texts)
