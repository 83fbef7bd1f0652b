"""Secrets out of text the agent reads from outside, before anything is stored, logged or prompted.

Applied once where outside text comes in: alert labels and annotations at intake, what signal sources
read (error log lines, health check details, text values, the URLs they echo), action results, the
LLM's answer, an operator's free text; and as the last step of every log line (`redact_event` for
structlog, `install_log_redaction` for the standard library's records, httpx's among them, which name
each URL with its credentials).

Two layers. Yelp's detect-secrets finds provider tokens by their shape (AWS, GitHub, GitLab, Slack,
Stripe, Twilio, SendGrid, npm, PyPI, OpenAI, Discord, Telegram, Azure storage keys, JWTs, private key
headers, URL passwords...), each value extended to the whole token it sits in (its JWT pattern stops
before the signature). Our own patterns take what a line-oriented detector of committed code misses in
log lines: private key blocks, URL userinfo, `Bearer`/`Basic` credentials, `key=value` and `"key":
"value"` assignments to secret-sounding keys (`password`, `token`, `api_key`, `session`, `cookie`...),
`passwd x`, e-mail addresses, and long random-looking tokens (upper and lower case and digits mixed;
hex ids and hashes are kept, they are what error signatures are made of). Its high-entropy and keyword
plugins are not used: on log lines they take the rest of a line or every hash. Nor are the detectors
that look for vendor-named assignments, an account name or an IP address (Cloudant, IBM, SoftLayer,
Artifactory, public IPs): they cost five times the others together, and what they find here is an
assignment or a long token our patterns take anyway.

About 50 µs of CPU for a log line of ~120 characters with ids in it, on this 2-core machine
(`tests/agent/test_redaction.py` measures it on 3,000 lines): the 500 lines of one log read in ~25 ms.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import Annotated, Any

from pydantic import AfterValidator

MARK = "[redacted]"
# detect-secrets detectors left out (see the docstring), by class name
SKIPPED_DETECTORS = frozenset(
    {
        "IPPublicDetector",
        "ArtifactoryDetector",
        "CloudantDetector",
        "IbmCloudIamDetector",
        "IbmCosHmacDetector",
        "SoftlayerDetector",
    }
)
_KEY = (
    r"(?:(?:api|access|secret|private|signing|encryption|client|master)[_-]?key|apikey"
    r"|passw(?:or)?d|pwd|passphrase|secret|token|credentials?|authorization|auth|cookie"
    r"|session(?:[_-]?id)?|signature)"
)
# words that follow "password" in prose ("password authentication failed"), not a password
_PROSE = (
    r"(?:authentication|auth|is|was|for|of|to|and|or|must|required|incorrect|invalid|expired|changed"
    r"|reset|mismatch|too|not|has|have|cannot|can't|does|did|should|will|policy|length|hash|field"
    r"|prompt|manager|file|updated|rejected|denied|missing|empty|wrong|check|verification|validation"
    r"|login|protected|based|the|a|an|with|without|in|on|at|from|no)\b"
)
_QUOTE = r"\\?[\"']"
_VALUE = rf"(?:{_QUOTE}(?:(?!{_QUOTE}).){{1,512}}?{_QUOTE}|[^\s,;&\"'<>{{}}\[\]()]{{1,512}})"
_Replacement = str | Callable[[re.Match[str]], str]
# Before detect-secrets: its private key detector would take the header and leave the key.
_KEY_BLOCK = re.compile(
    r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END[A-Z0-9 ]*-----|\Z)", re.S
)
# A token long enough for a provider's format, with a digit in it (a random 20-character key has none
# once in a thousand): a text without one is not given to detect-secrets.
_CANDIDATE = re.compile(r"[A-Za-z0-9_+/=-]{16,}")
# Each pattern with the words (lower case) a text must contain for it to be tried: a substring test
# costs far less than a case-insensitive regex over every position.
_PATTERNS: tuple[tuple[tuple[str, ...], re.Pattern[str], _Replacement], ...] = (
    (("://",), re.compile(r"(?i)\b([a-z][a-z0-9+.-]{1,20}://)[^\s/?#@\"'<>]+@"), rf"\1{MARK}@"),
    (("bearer", "digest"), re.compile(r"(?i)\b(bearer|digest)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {MARK}"),
    (
        ("basic",),
        re.compile(r"(?i)\b(basic)\s+(?=[a-z0-9+/]*[A-Z0-9+/=])[A-Za-z0-9+/]{8,}={0,2}"),
        rf"\1 {MARK}",
    ),
    (
        ("pass", "pwd", "secret", "token", "key", "credential", "auth", "cookie", "session", "signature"),
        re.compile(rf"(?i)({_KEY}{_QUOTE}?\s*(?:=>|:=|[:=])\s*)"
                   rf"(?!\[redacted|(?:bearer|basic|digest)\s|{_KEY}\b)({_VALUE})"),
        lambda m: m.group(1) + _keep_quotes(m.group(2)),
    ),
    (
        ("pass", "pwd"),
        re.compile(rf"(?i)\b(passw(?:or)?d|pwd)(\s+)(?!{_PROSE}|\[redacted)({_VALUE})"),
        rf"\1\2{MARK}",
    ),
    (("sk-",), re.compile(r"\bsk-(?:[a-z]+-)?[A-Za-z0-9_-]{20,}"), MARK),
    (("@",), re.compile(r"\b[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"), MARK),
    ((), re.compile(r"[A-Za-z0-9+/_-]{32,}={0,2}"), lambda m: MARK if _random(m.group(0)) else m.group(0)),
)  # fmt: skip
# What `_redact` must find in a text's lower case before any of its steps can change it: a key block's
# header, a token long enough for detect-secrets (`_CANDIDATE`) or the random-token pattern, or a word
# one of `_PATTERNS` needs. A text without any (an instance, a pod name, a short label) is kept as it is
# without running the steps: a notification of 500 alerts carries 500 such values.
_NEEDLES = sorted({re.escape(needle) for needles, _, _ in _PATTERNS for needle in needles})
_TRIGGER = re.compile("|".join([r"[a-z0-9_+/=-]{16,}", "private key", *_NEEDLES]))
_SECRET_KEY = re.compile(rf"(?i){_KEY}$")
_LEFT = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.+/")
_RIGHT = _LEFT | {"="}


def _keep_quotes(value: str) -> str:
    if value[0] in "\"'\\":
        quote = value[: 2 if value[0] == "\\" else 1]
        return f"{quote}{MARK}{quote}"
    return MARK


@functools.cache
def _detectors() -> tuple[Any, ...]:
    """detect-secrets' provider detectors, built on first use (importing them takes ~0.3 s)."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.plugins.base import RegexBasedDetector

    classes: list[type] = list(get_mapping_from_secret_type_to_class().values())
    return tuple(
        cls()
        for cls in sorted(classes, key=lambda c: c.__name__)
        if issubclass(cls, RegexBasedDetector) and cls.__name__ not in SKIPPED_DETECTORS
    )


def redact(text: str) -> str:
    """`text` with every secret found replaced by `[redacted]`; the same text when there is none."""
    if not text:
        return text
    if len(text) <= _CACHED_LENGTH:
        return _redact_short(text)
    return _redact(text)


_CACHED_LENGTH = 256


@functools.lru_cache(maxsize=8192)
def _redact_short(text: str) -> str:
    """Labels and short values, remembered: a notification repeats them in every alert it carries."""
    return _redact(text)


def _redact(text: str) -> str:
    if _TRIGGER.search(text.lower()) is None:
        return text
    if "PRIVATE KEY" in text:
        text = _KEY_BLOCK.sub("[redacted private key]", text)
    if any(_has_digit(m.group(0)) for m in _CANDIDATE.finditer(text)):
        found = {value for detector in _detectors() for value in detector.analyze_string(text) if value}
        if found:
            text = _replace(text, found)
    lower = text.lower()
    for needles, pattern, replacement in _PATTERNS:
        if not needles or any(needle in lower for needle in needles):
            text = pattern.sub(replacement, text)
    return text


def _has_digit(token: str) -> bool:
    return any(c.isdigit() for c in token)


def _random(token: str) -> bool:
    """Upper and lower case letters and digits mixed: a key, not a word, a path, a hex id or a hash."""
    upper = lower = False
    for c in token:
        upper, lower = upper or c.isupper(), lower or c.islower()
    return upper and lower and _has_digit(token)


def _replace(text: str, values: Iterable[str]) -> str:
    """Each value, widened to the whole token it is part of, replaced by one mark (overlaps merged)."""
    spans = []
    for value in values:
        start = text.find(value)
        while start != -1:
            left, right = start, start + len(value)
            while left > 0 and text[left - 1] in _LEFT:
                left -= 1
            while right < len(text) and text[right] in _RIGHT:
                right += 1
            spans.append((left, right))
            start = text.find(value, start + 1)
    merged: list[list[int]] = []
    for left, right in sorted(spans):
        if merged and left <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], right)
        else:
            merged.append([left, right])
    out, last = [], 0
    for left, right in merged:
        out.append(text[last:left] + MARK)
        last = right
    return "".join(out) + text[last:]


@functools.lru_cache(maxsize=1024)
def is_secret_key(key: str) -> bool:
    """A name whose value is a secret whatever it looks like (`password`, `X-Api-Key`, `session_id`)."""
    return bool(_SECRET_KEY.search(key.strip("\"' ")))


def redact_data(value: Any) -> Any:
    """Strings redacted throughout dicts and lists; a string under a secret-sounding key is replaced."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redact_data(k): _value_of(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(v) for v in value]
    return value


def _value_of(key: Any, value: Any) -> Any:
    if isinstance(key, str) and isinstance(value, str) and value and is_secret_key(key):
        return MARK
    return redact_data(value)


def redact_pairs(pairs: dict[str, str]) -> dict[str, str]:
    """Labels or annotations: `redact_data` for a str → str mapping, and `pairs` itself when nothing in
    it changed (so the caller knows it need not bound it again)."""
    redacted: dict[str, str] = {}
    for key, value in pairs.items():
        name, secret = _key_of_pair(key)
        redacted[name] = MARK if secret and value else redact(value)
    return pairs if redacted == pairs else redacted


@functools.lru_cache(maxsize=1024)
def _key_of_pair(key: str) -> tuple[str, bool]:
    """A label or annotation name redacted, and whether its value is a secret whatever it looks like."""
    return redact(key), is_secret_key(key)


Redacted = Annotated[str, AfterValidator(redact)]
"""A string field of a model that takes outside text: redacted as it is validated."""


def redact_event(logger: Any, method: str, event: MutableMapping[str, Any]) -> dict[str, Any]:
    """structlog processor, last before rendering: nothing logged carries a secret, whoever logs it."""
    return dict(redact_data(event))


def install_log_redaction() -> None:
    """Every standard-library log record redacted as it is made (its message and traceback), whichever
    handler writes it: httpx logs each request's URL, credentials and all; uvicorn has handlers of its own."""
    make = logging.getLogRecordFactory()
    if getattr(make, "redacting", False):
        return
    formatter = logging.Formatter()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        record.msg, record.args = redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(formatter.formatException(record.exc_info))
        return record

    factory.redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
