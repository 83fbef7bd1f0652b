"""The chaos API: break a fault, stop it, list attacks, read the catalog with its ground truth.

A break answers 200 when every hook confirmed the injection, 202 when a hook did not answer in time
(the fault may be partly injected: the attack is active and can be stopped), 502 when nothing was
injected (a hook refused or could not be reached).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from lab.auth import require_bearer
from lab.chaos.attacks import Attack, AttackBook, AttackNotActive, FaultAlreadyActive, UnknownAttack
from lab.chaos.catalog import FAULTS
from lab.chaos.config import Settings
from lab.chaos.hooks import Hooks, MechanismError
from lab.errors import OBJECT_BODY, UNAUTHORIZED, documented, json_object, validated


class UnknownFaultDetail(BaseModel):
    reason: str
    known_faults: list[str]


class NotFound(BaseModel):
    """An unknown fault names the known ones; an unknown attack is a reason."""

    detail: UnknownFaultDetail | str


def _book(request: Request) -> AttackBook:
    return request.app.state.book


def known_fault(fault: str) -> str:
    if fault not in FAULTS:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail={"reason": f"unknown fault {fault!r}", "known_faults": sorted(FAULTS)},
        )
    return fault


Book = Annotated[AttackBook, Depends(_book)]
KnownFault = Annotated[str, Depends(known_fault)]


def create_app(settings: Settings, http: httpx.AsyncClient | None = None) -> FastAPI:
    """`http` lets tests point the hooks at in-process fakes (httpx.MockTransport or ASGI)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = http or httpx.AsyncClient()
        app.state.book = AttackBook(Hooks(settings, client), settings.history_size)
        try:
            yield
        finally:
            await app.state.book.stop_all()
            if http is None:
                await client.aclose()

    def check_token(request: Request) -> None:
        expected = settings.api_token.get_secret_value()
        if expected:
            require_bearer(lambda: expected)(request.headers.get("authorization"))

    app = FastAPI(
        title="lab chaos",
        lifespan=lifespan,
        dependencies=[Depends(check_token)],
        responses=documented({401: UNAUTHORIZED}) if settings.api_token.get_secret_value() else None,
    )

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/faults")
    async def faults() -> dict[str, list[dict[str, Any]]]:
        return {"faults": [spec.public() for spec in FAULTS.values()]}

    @app.get("/api/v1/attacks")
    async def attacks(attack_book: Book) -> dict[str, list[Attack]]:
        return attack_book.list()

    @app.post(
        "/api/v1/break/{fault}",
        response_model=Attack,
        responses={
            **documented({404: "no such fault in the catalog"}, NotFound),
            **documented(
                {
                    409: "the fault is already active",
                    422: "bad parameters for this fault",
                    502: "a hook refused or could not be reached: nothing was injected",
                }
            ),
            202: {
                "model": Attack,
                "description": "a hook did not answer in time: the fault may be partly injected; "
                "the attack is active and can be stopped",
            },
        },
        openapi_extra=OBJECT_BODY,
    )
    async def break_fault(
        attack_book: Book, fault: KnownFault, body: Annotated[dict[str, Any], Depends(json_object)]
    ) -> Any:
        params = validated(FAULTS[fault].params_model, body)
        try:
            attack = await attack_book.start(fault, params)
        except FaultAlreadyActive as exc:
            raise HTTPException(
                status.HTTP_409_CONFLICT, detail=f"{fault} is already active as attack {exc.attack_id}"
            ) from None
        except MechanismError as exc:
            raise HTTPException(status.HTTP_502_BAD_GATEWAY, detail=exc.reason) from None
        if not attack.confirmed:
            return JSONResponse(attack.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)
        return attack

    @app.post(
        "/api/v1/break/{fault}/{attack_id}/stop",
        responses={
            **documented({404: "no such fault, or no such attack of it"}, NotFound),
            **documented(
                {409: "the attack already ended", 502: "a hook did not answer: the attack is still active"}
            ),
        },
    )
    async def stop_attack(attack_book: Book, fault: KnownFault, attack_id: str) -> Attack:
        try:
            return await attack_book.stop(fault, attack_id)
        except UnknownAttack:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no {fault} attack {attack_id}") from None
        except AttackNotActive:
            raise HTTPException(
                status.HTTP_409_CONFLICT, detail=f"attack {attack_id} already ended"
            ) from None
        except MechanismError as exc:
            raise HTTPException(
                status.HTTP_502_BAD_GATEWAY, detail=f"{exc.reason}; the attack is still active"
            ) from None

    return app
