"""Bearer-token checks for the agent's own endpoints (the agent does not import the lab's code)."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, status
from pydantic import SecretStr


def check_bearer(authorization: str | None, expected: SecretStr) -> None:
    """Nothing to check when no token is configured; otherwise 401 unless the header carries it."""
    token = expected.get_secret_value()
    if not token:
        return
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing or invalid bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
