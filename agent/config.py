"""The agent's one settings object: unprefixed env names (the seed's), `.env` supported, SecretStr tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from agent.domain.limits import AlertLimits, IncidentLimits

AgentMode = Literal["autonomous", "approval", "dry-run"]
ResponseFormatMode = Literal["auto", "json_schema", "json_object", "none"]
LOCAL_HOSTS = ("localhost", "127.0.0.1")
WRITE_TOKENS = ("WEBHOOK_TOKEN", "API_TOKEN")


class UnauthenticatedRefused(ValueError):
    """A write token is empty and ALLOW_UNAUTHENTICATED is not set: the agent must not start open."""


_ALERT, _INCIDENT = AlertLimits(), IncidentLimits()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    HOST: str = Field(
        default="127.0.0.1", description="the address listened on; 0.0.0.0 to be reached from other hosts"
    )
    PORT: int = Field(default=9001, description="the webhook, the API, /health and /metrics")
    SERVER_KEEP_ALIVE_SECONDS: int = Field(
        default=5, ge=1, description="an idle keep-alive connection is closed after this (uvicorn)"
    )
    SERVER_MAX_CONNECTIONS: int = Field(
        default=100,
        ge=2,
        description="open connections (or requests in flight) past which a request is answered 503 "
        "(uvicorn's limit_concurrency; Alertmanager re-sends a 503)",
    )
    SERVER_MAX_HEADER_BYTES: int = Field(
        default=16_384,
        ge=1_024,
        description="a request head still incomplete past this many bytes is refused (400): the memory a "
        "client that never ends its headers can hold (uvicorn's h11_max_incomplete_event_size)",
    )

    PROMETHEUS_URL: str = Field(
        default="http://127.0.0.1:9090",
        description="the Prometheus the agent queries: the services' signals, firing alerts, verification",
    )
    ALERTMANAGER_URL: str = Field(
        default="",
        description="read for the alerts a truncated notification left out; by default also "
        "where the agent's own alerts and silences go",
    )
    EXTERNAL_URL: str = Field(
        default="",
        description="the agent's address as people reach it, for the links in the alerts it posts (the "
        "incident, its runbook, the approve call); empty: http://HOST:PORT",
    )
    AGENT_ALERTS_ENABLED: bool = Field(
        default=True,
        description="post escalations and approval requests to Alertmanager as alerts (SREAgentEscalated, "
        "SREAgentApprovalNeeded) when an Alertmanager URL is known",
    )
    AGENT_ALERTS_URL: str = Field(
        default="",
        description="the Alertmanager the agent's alerts and silences go to; empty: ALERTMANAGER_URL",
    )
    AGENT_ALERTS_RESEND_SECONDS: float = Field(
        default=60.0,
        gt=0,
        description="an active alert is posted again this often, each post ending four of these later (as "
        "Prometheus does): an agent that stops posting lets its alerts resolve",
    )
    AGENT_ALERTS_ESCALATION_MAX_SECONDS: float = Field(
        default=86_400.0,
        gt=0,
        description="an escalation fires while its incident's alerts do and no person has recorded a "
        "resolution, and at most this long",
    )
    SILENCE_WHILE_VERIFYING: bool = Field(
        default=False,
        description="while a fix is verified, silence the incident's alerts at Alertmanager (exact matchers, "
        "created by sre-agent); removed when verification ends, the incident closes or escalates",
    )
    SILENCE_MAX_SECONDS: float = Field(
        default=900.0, gt=0, description="a silence lasts the verification deadline, and at most this long"
    )
    GRAFANA_URL: str = Field(
        default="",
        description="where annotations go; empty or down: they wait in an outbox file under AGENT_DATA_DIR",
    )
    GRAFANA_TOKEN: SecretStr = Field(
        default=SecretStr(""), description="Grafana service-account token (bearer), never logged"
    )
    GRAFANA_DASHBOARD_UID: str = Field(
        default="", description="dashboard the annotations are attached to; empty: organisation-wide"
    )
    WEAVIATE_URL: str = Field(default="", description="http(s) REST URL; empty = the embedded store only")
    WEAVIATE_GRPC_PORT: int = Field(default=50051, ge=1, le=65535, description="Weaviate's gRPC port")
    WEAVIATE_API_KEY: SecretStr = Field(
        default=SecretStr(""), description="optional Weaviate API key, never logged"
    )
    WEAVIATE_COLLECTION_PREFIX: str = Field(
        default="Sre",
        pattern=r"^[A-Z][A-Za-z0-9]*$",
        description="the collections are `<prefix>Runbook` and `<prefix>Incident`",
    )
    WEAVIATE_TIMEOUT_SECONDS: float = Field(
        default=5.0, gt=0, description="per request; a store call gets twice that"
    )

    LLM_MODEL: str = Field(
        default="",
        description="any litellm model string (`gpt-4o-mini`, `ollama_chat/<model>`...); empty: the "
        "deterministic diagnoser only",
    )
    LLM_API_BASE: str = Field(
        default="", description="a self-hosted model server (Ollama, vLLM, llama.cpp); empty: the provider's"
    )
    LLM_API_KEY: SecretStr = Field(
        default=SecretStr(""),
        description="sent to the provider; empty = litellm's own (OPENAI_API_KEY...). An `openai/...` model "
        "on a self-hosted server without keys still needs a non-empty value",
    )
    LLM_TIMEOUT_SECONDS: float = Field(
        default=30.0, description="a model call slower than this falls back to the deterministic diagnosis"
    )
    LLM_RESPONSE_FORMAT: ResponseFormatMode = Field(
        default="auto",
        description="structured output asked of the model: auto = json_schema where litellm says the model "
        "supports it, else json_object with the schema beside it (llama.cpp); none = plain text. The "
        "answer is validated either way",
    )
    LLM_MAX_PROMPT_CHARS: int = Field(
        default=12_000,
        ge=2_000,
        description="the user message is cut to this (data first to go): keep it within the model's context",
    )

    EMBEDDING_MODEL: str = Field(
        default="auto",
        description="semantic search: `auto` = the packaged all-MiniLM-L6-v2 when the `semantic` extra is "
        "installed, a path = a local sentence-transformers model, empty = lexical only. Read from disk, "
        "never downloaded",
    )
    VECTOR_STORE_PATH: Path = Field(
        default=Path("data/agent/knowledge.json"),
        description="the embedded knowledge store's file: runbooks and past incidents (vectors cached beside "
        "it, in `<file>.vectors/`)",
    )
    SERVICES_PATH: Path = Field(
        default=Path("services"), description="the service catalog: one `<service>.yml` per service"
    )
    SIGNAL_PACKS_PATH: Path = Field(
        default=Path("signals"), description="signal packs beside the built-in ones (`<pack>.yml`)"
    )
    SERVICES_CHECK_SECONDS: float = Field(
        default=5.0, gt=0, description="how often the service catalog folder is looked at for changes"
    )
    UNOWNED_ALERTS: Literal["record", "escalate"] = Field(
        default="record",
        description="alerts no catalog service owns: recorded (metric, /agent/status) and, with escalate, "
        "also an escalated incident without a service; never acted on",
    )
    RUNBOOKS_PATH: Path = Field(
        default=Path("runbooks"), description="the runbooks: the `*.md` files directly in this folder"
    )
    RUNBOOKS_CHECK_SECONDS: float = Field(
        default=5.0,
        gt=0,
        description="how often the runbooks folder is looked at for edited, new or removed files",
    )
    PROPOSED_RUNBOOKS_ENABLED: bool = Field(
        default=True,
        description="write proposed runbook amendments after incidents (to PROPOSED_RUNBOOKS_PATH)",
    )
    PROPOSED_RUNBOOKS_PATH: Path | None = Field(
        default=None, description="where proposed amendments go; unset: RUNBOOKS_PATH/proposed"
    )
    AGENT_DATA_DIR: Path = Field(
        default=Path("data/agent"),
        description="the incident history (`incidents.db`), LangGraph checkpoints (`checkpoints.db`) and "
        "the annotation outbox",
    )

    WEBHOOK_TOKEN: SecretStr = Field(
        default=SecretStr(""),
        description="bearer token of POST /webhooks/alertmanager (Alertmanager sends it), never logged; "
        "empty: the agent refuses to start (exit 1, the reason on stderr) unless ALLOW_UNAUTHENTICATED",
    )
    API_TOKEN: SecretStr = Field(
        default=SecretStr(""),
        description="bearer token of every other write (trigger, approve/reject, resolution, follow-ups, "
        "kill switch); it reads too. Never logged; empty: as WEBHOOK_TOKEN",
    )
    READ_TOKEN: SecretStr = Field(
        default=SecretStr(""),
        description="when set, GET /agent/* need it (or API_TOKEN); empty: open to anyone reaching the port",
    )
    ALLOW_UNAUTHENTICATED: bool = Field(
        default=False,
        description="development only: start with WEBHOOK_TOKEN or API_TOKEN empty, their routes open to "
        "anyone who reaches the port (a warning at start-up, `access` in /health and /agent/status); "
        "without it the agent refuses to start",
    )
    ALLOWED_HOSTS: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host header values answered, comma-separated (`*.example.com` allowed), others get 400; "
        "empty: any host, or only localhost and 127.0.0.1 with ALLOW_UNAUTHENTICATED (DNS rebinding)",
    )

    AGENT_MODE: AgentMode = Field(
        default="autonomous",
        description="approval: each plan waits for POST /agent/incidents/{id}/approve or reject; dry-run: "
        "plans are recorded, nothing runs. A catalog entry may set its own",
    )
    REMEDIATION_ENABLED: bool = Field(
        default=True, description="start-up value of the kill switch (False = engaged)"
    )

    MONITOR_ENABLED: bool = Field(
        default=False,
        description="the agent's own detector: polls each catalog service's HTTP signals and pages itself "
        "on anomalies, for setups without alert rules for a service",
    )
    POLL_INTERVAL_SECONDS: float = Field(default=10.0, description="how often the monitor polls")
    ANOMALY_THRESHOLD_ERROR_RATE: float = Field(
        default=5.0, description="percent; absolute floor for the monitor"
    )

    MAX_ACTIONS_PER_INCIDENT: int = Field(default=3, description="actions one incident may run")
    MAX_ACTIONS_PER_HOUR: int = Field(default=10, description="actions per service in any hour")
    ACTION_COOLDOWN_SECONDS: float = Field(
        default=120.0, description="an action is not run again on a service this soon by another incident"
    )
    MIN_CONFIDENCE: float = Field(default=0.5, description="a diagnosis less confident than this escalates")
    MAX_ATTEMPTS: int = Field(
        default=3, description="actions that did not verify recovery before the incident escalates"
    )
    MAX_PLAN_WAITS: int = Field(
        default=20, ge=0, description="times a plan waits for a cooldown or another fix before escalating"
    )
    OBSERVE_WINDOW_SECONDS: float = Field(
        default=120.0,
        ge=0,
        description="how long to keep looking at inconclusive evidence (symptoms still developing) "
        "before escalating; 0 = escalate at the first inconclusive look",
    )
    OBSERVE_INTERVAL_SECONDS: float = Field(default=20.0, gt=0, description="pause between two looks")
    LOG_LOOKBACK_SECONDS: float = Field(
        default=600.0,
        gt=0,
        description="error logs are read from this long before the first alert fired (at most 10 min "
        "before the page, never before the service's last verified recovery)",
    )
    CIRCUIT_BREAKER_FAILURES: int = Field(
        default=3,
        description="verifications failed in a row after an action on a service that open its circuit "
        "breaker: the action is skipped there",
    )
    CIRCUIT_BREAKER_COOLOFF_SECONDS: float = Field(
        default=900.0, description="an open breaker lets one trial through after this; a success closes it"
    )

    VERIFY_HOLD_SECONDS: float = Field(
        default=60.0, description="how long recovery must hold: a cap, a runbook may ask for less"
    )
    VERIFY_DEADLINE_SECONDS: float = Field(
        default=300.0, description="how long a fix has to verify: a cap, a runbook may ask for less"
    )
    VERIFY_POLL_SECONDS: float = Field(default=5.0, description="pause between two verification polls")

    HTTP_TIMEOUT_SECONDS: float = Field(
        default=5.0,
        description="timeout of the agent's HTTP calls (Prometheus, probes, Grafana...) other than actions",
    )
    ACTION_TIMEOUT_SECONDS: float = Field(
        default=120.0, gt=0, description="an action call's timeout unless its backend in the catalog sets one"
    )
    INTAKE_QUEUE_SIZE: int = Field(
        default=100,
        description="alert groups whose notification waits for the intake worker (a group's newer "
        "notification takes its waiting one's place); past it the webhook answers 503 so that "
        "Alertmanager re-sends",
    )
    MAX_REQUEST_BODY_BYTES: int = Field(
        default=4 * 2**20, gt=0, description="larger request bodies are answered 413 before being read"
    )
    WEBHOOK_MAX_ALERTS: int = Field(
        default=500,
        gt=0,
        description="alerts kept from one notification (firing first), like Alertmanager's own max_alerts;"
        " the rest are counted, not stored",
    )
    ALERT_MAX_LABELS: int = Field(
        default=_ALERT.max_pairs,
        ge=8,
        description="labels (and annotations) kept per alert, those the agent reads first",
    )
    ALERT_MAX_LABEL_CHARS: int = Field(
        default=_ALERT.max_label_chars, ge=64, description="longer label values are cut, marked `…[cut]`"
    )
    ALERT_MAX_ANNOTATION_CHARS: int = Field(
        default=_ALERT.max_annotation_chars, ge=256, description="longer annotation values are cut, marked"
    )
    ALERT_MAX_CHARS: int = Field(
        default=_ALERT.max_alert_chars,
        ge=1024,
        description="one alert's labels and annotations together: past it values are cut, then left out",
    )
    GROUP_KEY_MAX_CHARS: int = Field(
        default=_ALERT.max_group_key_chars, ge=64, description="a longer Alertmanager groupKey is cut, marked"
    )
    INCIDENT_MAX_ALERTS: int = Field(
        default=_INCIDENT.max_alerts,
        ge=1,
        description="alerts an open incident keeps (firing, one of each name, newest first); the others "
        "are counted in its `alerts_dropped`",
    )
    INCIDENT_MAX_FINGERPRINTS: int = Field(
        default=_INCIDENT.max_fingerprints, ge=1, description="alert fingerprints an incident remembers"
    )
    INCIDENT_RETENTION_DAYS: float = Field(
        default=30.0, gt=0, description="finished incidents closed longer ago are deleted, checkpoints too"
    )
    INCIDENT_RETENTION_MAX: int = Field(
        default=10_000, ge=1, description="beyond this many incidents the oldest finished ones are deleted"
    )
    RETENTION_CHECK_SECONDS: float = Field(default=3600.0, gt=0, description="how often retention runs")
    MAX_CONCURRENT_INCIDENTS: int = Field(
        default=8, ge=1, description="incident workflows run at once; the others wait, already open"
    )
    LOG_LEVEL: str = Field(default="INFO", description="of the JSON log lines on stderr")
    EVENT_LOOP_LAG_INTERVAL_SECONDS: float = Field(
        default=0.5,
        gt=0,
        description="how often the event loop's lag is sampled (`sre_agent_event_loop_lag_seconds`): "
        "a block of the loop longer than this always shows in it",
    )

    def open_routes(self) -> list[str]:
        """The routes that answer without a token as configured (empty: every route but /health, /metrics
        and the OpenAPI document needs one)."""
        routes = {
            "POST /webhooks/alertmanager": self.WEBHOOK_TOKEN,
            "POST /agent/*": self.API_TOKEN,
            "GET /agent/*": self.READ_TOKEN,
        }
        return [route for route, token in routes.items() if not token.get_secret_value()]

    def refuse_open_writes(self) -> None:
        """UnauthenticatedRefused when a write token is empty, unless ALLOW_UNAUTHENTICATED says so."""
        empty = [name for name in WRITE_TOKENS if not getattr(self, name).get_secret_value()]
        if empty and not self.ALLOW_UNAUTHENTICATED:
            raise UnauthenticatedRefused(
                f"refusing to start: {' and '.join(empty)} {'is' if len(empty) == 1 else 'are'} empty, so "
                "anyone who can reach the agent's port could send it pages, approve actions or flip the "
                f"kill switch. Set {'it' if len(empty) == 1 else 'them'} (e.g. `python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'`), or ALLOW_UNAUTHENTICATED=true on a development machine"
            )

    def allowed_hosts(self) -> list[str]:
        """Host headers answered: ALLOWED_HOSTS, else localhost names if routes may be open, else any."""
        if self.ALLOWED_HOSTS:
            return self.ALLOWED_HOSTS
        return list(LOCAL_HOSTS) if self.ALLOW_UNAUTHENTICATED else ["*"]

    def alert_limits(self) -> AlertLimits:
        return AlertLimits(
            max_pairs=self.ALERT_MAX_LABELS,
            max_label_chars=self.ALERT_MAX_LABEL_CHARS,
            max_annotation_chars=self.ALERT_MAX_ANNOTATION_CHARS,
            max_alert_chars=self.ALERT_MAX_CHARS,
            max_group_key_chars=self.GROUP_KEY_MAX_CHARS,
        )

    def incident_limits(self) -> IncidentLimits:
        return IncidentLimits(
            max_alerts=self.INCIDENT_MAX_ALERTS, max_fingerprints=self.INCIDENT_MAX_FINGERPRINTS
        )

    @property
    def proposed_runbooks_path(self) -> Path:
        """Where proposed amendments go: by default a sub-folder, which the runbook loader never reads."""
        return self.PROPOSED_RUNBOOKS_PATH or self.RUNBOOKS_PATH / "proposed"

    @field_validator("ALLOWED_HOSTS", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [host.strip() for host in value.split(",") if host.strip()]
        return value

    @property
    def agent_alerts_url(self) -> str:
        """Where the agent's alerts and silences go: AGENT_ALERTS_URL, else ALERTMANAGER_URL ("": nowhere)."""
        return (self.AGENT_ALERTS_URL or self.ALERTMANAGER_URL).rstrip("/")

    def external_url(self) -> str:
        """The agent's address for links people follow: EXTERNAL_URL, else this host and port."""
        if self.EXTERNAL_URL:
            return self.EXTERNAL_URL.rstrip("/")
        host = "localhost" if self.HOST in ("0.0.0.0", "::", "") else self.HOST
        return f"http://{host}:{self.PORT}"

    @field_validator("EXTERNAL_URL", "AGENT_ALERTS_URL")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("WEAVIATE_URL")
    @classmethod
    def _weaviate_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("WEAVIATE_URL must start with http:// or https://")
        return value.rstrip("/")
