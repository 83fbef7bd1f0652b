"""Bearer-token comparison for the agent's own endpoints (the agent does not import the lab's code)."""

from __future__ import annotations

import hmac

from pydantic import SecretStr


def bearer_matches(authorization: str | None, *accepted: SecretStr) -> bool:
    """True when the `Authorization: Bearer …` header carries one of the non-empty `accepted` tokens
    (compared in constant time); an empty token accepts nothing."""
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    offered = given.strip().encode()
    return any(
        hmac.compare_digest(offered, token.get_secret_value().encode())
        for token in accepted
        if token.get_secret_value()
    )
