"""`agent.redaction` on the secret corpus, on ordinary log lines (kept as they are), on structured data
and log records, and how long it takes per log line."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator

import pytest

from agent.redaction import (
    _TRIGGER,
    MARK,
    SKIPPED_DETECTORS,
    _detectors,
    _redact,
    install_log_redaction,
    redact,
    redact_data,
    redact_event,
    redact_pairs,
)
from lab.bench.secret_corpus import CorpusLine, corpus, leaks

ORDINARY = [
    "request_failed: QueuePool limit of size 5 overflow 5 reached, connection timed out, timeout 2.10",
    "request_failed: QueuePool limit of size <n> overflow <n> reached, connection timed out, timeout <n>",
    "request_failed: (sqlite3.OperationalError) database is locked",
    'FATAL: password authentication failed for user "orders"',
    "password must be at least 12 characters",
    "token expired; refreshing",
    "secret rotation job finished in 2.1 s",
    "session closed by peer",
    "auth failed for request 3f2a9c1e-7b4d-4e8a-9f1c-2d3e4f5a6b7c",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 deployed as release 2026.11.3",
    "sha256:4e3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b",
    'File "/usr/lib/python3.11/site-packages/sqlalchemy/pool/impl.py", line 157, in _do_get',
    "io.netty.channel.AbstractChannelHandlerContext.invokeChannelRead0(AbstractChannelHandlerContext.java:379)",
    "GET /api/v1/orders/1042?limit=5 returned 503 in 2100 ms",
    "prompt_tokens=1234 completion_tokens=56 max_tokens=400",
    "dependency payments-api timed out after 5.0 s (http://payments:8080/v1/charge)",
    "disk quota exceeded: /var/lib/target/orders.db 64000000 bytes",
    "MemoryError: cannot allocate 16777216 bytes",
    "kafka consumer group orders-consumers rebalanced, partition 3 lag 12000",
    "ValueError: invalid literal for int() with base 10: 'abc'",
    "monitor: anomalous error_rate, p95_latency",
]


@pytest.mark.parametrize("entry", corpus(), ids=lambda e: e.kind)
def test_every_secret_of_the_corpus_is_redacted_and_the_line_kept(entry: CorpusLine) -> None:
    redacted = redact(entry.line)
    assert not leaks(redacted, list(entry.secrets)), redacted
    assert MARK[:-1] in redacted and redacted[:4] == entry.line[:4]  # the rest is still there to read
    assert redact(redacted) == redacted


def test_the_corpus_has_every_kind_the_redaction_must_know() -> None:
    kinds = " ".join(e.kind for e in corpus())
    for kind in ("aws", "github", "slack", "jwt", "bearer", "url credentials", "password assignment",
                 "password in json", "passwd x", "private key", "e-mail"):  # fmt: skip
        assert kind in kinds


@pytest.mark.parametrize("line", ORDINARY)
def test_ordinary_lines_are_kept_as_they_are(line: str) -> None:
    assert redact(line) == line


def test_a_text_passed_over_is_one_every_step_would_keep() -> None:
    """`redact` skips texts without a trigger (what every step needs to find first): each piece of every
    corpus and ordinary line the trigger passes over is one the full redaction keeps as it is."""
    lines = [e.line for e in corpus()] + ORDINARY
    pieces = {line[i : i + n] for line in lines for n in (4, 8, 15, 24, 40) for i in range(len(line))}
    passed_over = [piece for piece in pieces if _TRIGGER.search(piece.lower()) is None]
    assert len(passed_over) > 1000
    assert [piece for piece in passed_over if _redact(piece) != piece] == []


def test_pairs_are_redacted_by_key_and_value_and_kept_as_they_are_when_clean() -> None:
    clean = {"alertname": "PoolExhausted", "instance": "orders-7f9c4-x2b1q:8000"}
    assert redact_pairs(clean) is clean
    dirty = {"db_password": "hunter2", "url": "https://ops:hunter2-value@db:5432/orders", **clean}
    assert redact_pairs(dirty) == {"db_password": MARK, "url": f"https://{MARK}@db:5432/orders", **clean}


def test_detect_secrets_gives_the_provider_detectors() -> None:
    names = {type(d).__name__ for d in _detectors()}
    assert {"AWSKeyDetector", "GitHubTokenDetector", "SlackDetector", "JwtTokenDetector"} <= names
    assert {"StripeDetector", "PrivateKeyDetector", "BasicAuthDetector"} <= names
    assert not names & SKIPPED_DETECTORS


def test_structured_data_is_redacted_by_value_and_by_key() -> None:
    data = {
        "labels": {"password": "plain-words", "severity": "critical", "X-Api-Key": "k", "llm_tokens": 5},
        "url": "https://ops:hunter2-value@prometheus:9090/api/v1/query",
        "lines": ["ok", "Authorization: Bearer 3f9a7c1e2b8d4f6a0c5e9b7d1a3f8c2e"],
    }
    assert redact_data(data) == {
        "labels": {"password": MARK, "severity": "critical", "X-Api-Key": MARK, "llm_tokens": 5},
        "url": f"https://{MARK}@prometheus:9090/api/v1/query",
        "lines": ["ok", f"Authorization: Bearer {MARK}"],
    }


def test_a_structlog_event_is_redacted_whoever_logged_it() -> None:
    event = {"event": "call_failed", "url": "postgresql://app:S3cretPassw0rd@db/orders", "token": "abc"}
    assert redact_event(None, "info", event) == {
        "event": "call_failed",
        "url": f"postgresql://{MARK}@db/orders",
        "token": MARK,
    }


@pytest.fixture
def log_redaction() -> Iterator[None]:
    """The record factory installed (twice: it is installed once), and httpx's INFO lines on (importing
    litellm, as another test may have, turns them off)."""
    before, level = logging.getLogRecordFactory(), logging.getLogger("httpx").level
    install_log_redaction()
    install_log_redaction()
    logging.getLogger("httpx").setLevel(logging.INFO)
    yield
    logging.setLogRecordFactory(before)
    logging.getLogger("httpx").setLevel(level)


def test_standard_library_records_are_redacted_as_they_are_made(
    log_redaction: None, caplog: pytest.LogCaptureFixture
) -> None:
    """httpx logs `HTTP Request: GET <url>` with the URL's credentials; a traceback can quote a secret."""
    caplog.set_level(logging.INFO)
    logging.getLogger("httpx").info(
        'HTTP Request: %s %s "%s"', "GET", "http://prom:prom-pass-456@127.0.0.1:9090/-/ready", "200 OK"
    )
    try:
        raise ValueError("login refused for password=correcthorsebatterystaple")
    except ValueError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    text = caplog.text
    assert "prom-pass-456" not in text and "correcthorsebatterystaple" not in text
    assert f"http://{MARK}@127.0.0.1:9090/-/ready" in text and "login refused for" in text


def test_a_log_line_takes_tens_of_microseconds() -> None:
    """3,000 lines like the target's error log (a request id, a trace id, a path on each; one in ten with a
    secret): the CPU time per line, printed. The agent reads at most 500 lines at a time."""
    secret_lines = [e.line for e in corpus()]
    rng = random.Random(7)
    lines = [
        rng.choice(secret_lines)
        if i % 10 == 0
        else f"{rng.choice(ORDINARY)} request_id=r{i} trace={rng.getrandbits(64):016x} path=/orders/{i}"
        for i in range(3000)
    ]
    redact(lines[0])  # detect-secrets' detectors are built on first use
    started = time.process_time()
    redacted = [redact(line) for line in lines]
    per_line = (time.process_time() - started) / len(lines)
    size = sum(map(len, lines)) // len(lines)
    print(
        f"redaction: {per_line * 1e6:.0f} µs a line over {len(lines)} lines of {size} characters on average"
        f" ({per_line * 500 * 1e3:.0f} ms for a read of 500 lines)"
    )
    assert not leaks("\n".join(redacted))
    assert per_line < 500e-6  # ~60 µs here; a pattern gone quadratic would be far above
