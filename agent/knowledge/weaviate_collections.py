"""Connecting to Weaviate, the two collections the knowledge store uses, and how records map onto them.

Explicit properties, no vectorizer (with an embedder, the store sends each object's vector itself, as the
named vector `default`, the one `Configure.Vectors.self_provided()` creates), no stop words: the
indexed `search_text` is already `tokenize()` output, so Weaviate's BM25 sees the same terms as the embedded
store (stems, split CamelCase alert names) and the stop-word decision is made once, in text.py.
Object ids are uuid5 of (collection, runbook or incident id): re-writing an object replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import weaviate
from pydantic import SecretStr
from weaviate.classes.config import Configure, DataType, Property, StopwordsPreset, Tokenization
from weaviate.classes.init import AdditionalConfig, Auth, GrpcConfig, Timeout
from weaviate.client import WeaviateClient
from weaviate.exceptions import UnexpectedStatusCodeError
from weaviate.util import generate_uuid5

from agent.knowledge.embedded import runbook_document
from agent.knowledge.runbooks import Runbook
from agent.knowledge.store import IncidentMemory
from agent.knowledge.text import tokenize

# Reconnect within seconds once Weaviate is back, instead of gRPC's default backoff of up to two minutes.
CHANNEL_OPTIONS = [("grpc.initial_reconnect_backoff_ms", 200), ("grpc.max_reconnect_backoff_ms", 5000)]
VECTOR = "default"  # the self-provided vector's name in both collections


def connect_weaviate(url: str, grpc_port: int, api_key: SecretStr, timeout_seconds: float) -> WeaviateClient:
    """A connected client (REST meta fetched; raises if unreachable). gRPC is first used by `start`.

    `skip_init_checks` because those checks ask PyPI for the latest client version on every start and do
    OIDC discovery; the store checks what it needs (collections over REST, a cursor read over gRPC).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("WEAVIATE_URL must be an http(s) URL")
    secure = parts.scheme == "https"
    key = api_key.get_secret_value()
    return weaviate.connect_to_custom(
        http_host=parts.hostname,
        http_port=parts.port or (443 if secure else 80),
        http_secure=secure,
        grpc_host=parts.hostname,
        grpc_port=grpc_port,
        grpc_secure=secure,
        auth_credentials=Auth.api_key(key) if key else None,
        skip_init_checks=True,
        additional_config=AdditionalConfig(
            timeout=Timeout(init=timeout_seconds, query=timeout_seconds, insert=timeout_seconds),
            grpc_config=GrpcConfig(channel_options=CHANNEL_OPTIONS),
        ),
    )


def _stored(name: str, data_type: DataType = DataType.TEXT) -> Property:
    """Kept and filterable, not part of the keyword index."""
    return Property(name=name, data_type=data_type, index_searchable=False)


SEARCH_TEXT = Property(name="search_text", data_type=DataType.TEXT, tokenization=Tokenization.WHITESPACE)
RUNBOOK_PROPERTIES = [
    _stored("runbook_id"),
    _stored("title"),
    _stored("content_hash"),
    _stored("path"),
    Property(name="text", data_type=DataType.TEXT, index_searchable=False, index_filterable=False),
    SEARCH_TEXT,
]
INCIDENT_PROPERTIES = [
    _stored("incident_id"),
    Property(name="symptoms_text", data_type=DataType.TEXT, index_searchable=False),
    SEARCH_TEXT,
    _stored("diagnosis_id"),
    _stored("root_cause"),
    _stored("actions_tried", DataType.TEXT_ARRAY),
    _stored("actions_worked", DataType.TEXT_ARRAY),
    _stored("actions_failed", DataType.TEXT_ARRAY),
    _stored("outcome"),
    Property(name="time_to_mitigate_seconds", data_type=DataType.NUMBER),
    Property(name="created_at", data_type=DataType.DATE),
]
RUNBOOK_RETURN = ["runbook_id", "title", "text", "search_text"]
INCIDENT_RETURN = [p.name for p in INCIDENT_PROPERTIES]


@dataclass(frozen=True)
class Collections:
    """Collection names under a prefix, so several agents (or tests) can share one Weaviate."""

    prefix: str = "Sre"

    @property
    def runbooks(self) -> str:
        return f"{self.prefix}Runbook"

    @property
    def incidents(self) -> str:
        return f"{self.prefix}Incident"


def ensure_collections(client: WeaviateClient, names: Collections) -> list[str]:
    """Create the collections that do not exist yet; returns the names created."""
    created = []
    for name, properties in ((names.runbooks, RUNBOOK_PROPERTIES), (names.incidents, INCIDENT_PROPERTIES)):
        if client.collections.exists(name):
            continue
        try:
            client.collections.create(
                name,
                properties=properties,
                vector_config=Configure.Vectors.self_provided(name=VECTOR),
                inverted_index_config=Configure.inverted_index(stopwords_preset=StopwordsPreset.NONE),
            )
        except UnexpectedStatusCodeError:
            if not client.collections.exists(name):  # else another agent created it first
                raise
            continue
        created.append(name)
    return created


def object_id(collection: str, key: str) -> str:
    return str(generate_uuid5(key, collection))


def runbook_properties(runbook: Runbook) -> dict[str, Any]:
    doc = runbook_document(runbook)
    return {
        "runbook_id": runbook.id,
        "title": runbook.title,
        "content_hash": runbook.content_hash,
        "path": runbook.path,
        "text": doc.page_content,
        "search_text": " ".join(tokenize(doc.page_content)),
    }


def incident_properties(memory: IncidentMemory) -> dict[str, Any]:
    props: dict[str, Any] = memory.model_dump(exclude={"time_to_mitigate_seconds"})
    props["search_text"] = " ".join(tokenize(memory.symptoms_text))
    if memory.time_to_mitigate_seconds is not None:  # Weaviate has no null: an absent property is one
        props["time_to_mitigate_seconds"] = memory.time_to_mitigate_seconds
    return props


def incident_from_properties(props: dict[str, Any]) -> IncidentMemory:
    """Validated back into the model; Weaviate returns absent lists and numbers as None."""
    fields = {k: v for k, v in props.items() if k in IncidentMemory.model_fields and v is not None}
    return IncidentMemory.model_validate(fields)
