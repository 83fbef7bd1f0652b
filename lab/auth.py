"""Bearer-token checks shared by the lab's services (admin, hook and action tokens)."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import Header, HTTPException, status


def bearer_matches(authorization: str | None, expected: str) -> bool:
    """Constant-time comparison of an `Authorization: Bearer <token>` header with the expected token."""
    if not expected or not authorization:
        return False
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(token.strip().encode(), expected.encode())


def require_bearer(get_expected: Callable[[], str]) -> Callable[[str | None], None]:
    """A FastAPI dependency that answers 401 unless the request carries the expected bearer token.

    `get_expected` is called per request so tests and app factories can pass the token in.
    """

    def dependency(authorization: str | None = Header(default=None)) -> None:
        expected = get_expected()
        if not authorization:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail="missing bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not bearer_matches(authorization, expected):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail="invalid bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )

    return dependency
