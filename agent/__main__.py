"""`python -m agent`: the agent on PORT (default 9001), JSON logs on stderr.

Everything it writes (incidents, checkpoints, knowledge, the annotation outbox, proposed runbooks) is
its owner's only: the umask makes new files 600 and new directories 700. It refuses to start with a
write token empty unless ALLOW_UNAUTHENTICATED says so (exit 1, the reason on stderr).

uvicorn bounds what it can: idle keep-alive connections (SERVER_KEEP_ALIVE_SECONDS), open connections
(SERVER_MAX_CONNECTIONS: past it a request is answered 503) and what it buffers of a request head not
yet complete (SERVER_MAX_HEADER_BYTES). It has no deadline for a request's headers or body: a client
that opens a connection and sends slowly holds it, counted towards the cap, for as long as it likes; put
a proxy with header and body timeouts in front where untrusted clients can reach the port.
"""

from __future__ import annotations

import gc
import os
import sys

import uvicorn

from agent.app import create_app
from agent.config import Settings, UnauthenticatedRefused
from agent.redaction import install_log_redaction, redact_event
from agent.telemetry.logs import configure_logging as configure_json_logging

PRIVATE_UMASK = 0o077
# How long a thread holding the GIL keeps it once another asks (CPython's default: 5 ms). The incident
# store's threads and a webhook body's validation hold it in pure Python for milliseconds under an alert
# flood; the event loop, woken by a request, waited up to that long before it could answer. 1 ms keeps
# the loop's wait short at the cost of more switches between the threads.
SWITCH_INTERVAL_SECONDS = 0.001
# Young objects allocated before a collection of the youngest generation (CPython's default: 700). An
# alert flood allocates hundreds of thousands (each notification's alerts, their summaries); at the
# default every hundredth young collection is a full one, 6 to 7 ms holding the GIL (longer when its
# thread loses the CPU on a busy machine), four in one 60-notification flood. At 10,000: none.
GC_YOUNG_THRESHOLD = 10_000


def configure_logging(level: str) -> None:
    """JSON lines; `incident_id` comes from contextvars bound by the workflow runner. Secrets are redacted
    from every line, structlog's and the standard library's (httpx names each URL it calls)."""
    install_log_redaction()
    configure_json_logging("agent", level, before_rendering=[redact_event])


def main() -> None:
    os.umask(PRIVATE_UMASK)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    settings = Settings()
    configure_logging(settings.LOG_LEVEL)
    try:
        app = create_app(settings)
    except UnauthenticatedRefused as exc:
        sys.exit(f"sre-agent: {exc}")
    # Everything imported so far lives as long as the process: frozen, a full garbage collection no
    # longer walks it (that walk took ~100 ms under an alert flood, and the webhook waited for it).
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    uvicorn.run(
        app,
        host=settings.HOST,
        port=settings.PORT,
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=5,
        timeout_keep_alive=settings.SERVER_KEEP_ALIVE_SECONDS,
        limit_concurrency=settings.SERVER_MAX_CONNECTIONS,
        h11_max_incomplete_event_size=settings.SERVER_MAX_HEADER_BYTES,
    )


if __name__ == "__main__":
    main()
