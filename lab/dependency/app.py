"""Stock levels per item, deterministic per name. A hidden lever adds latency to every stock answer."""

from __future__ import annotations

import asyncio
import zlib
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from lab.auth import require_bearer
from lab.dependency.config import Settings


class Stock(BaseModel):
    item: str
    available: int


class LatencyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(ge=0, le=600)


class InventoryState:
    def __init__(self, latency_seconds: float) -> None:
        self.latency_seconds = latency_seconds


def get_state(request: Request) -> InventoryState:
    return request.app.state.inventory  # type: ignore[no-any-return]


StateDep = Annotated[InventoryState, Depends(get_state)]


def available_for(item: str) -> int:
    return 20 + zlib.crc32(item.encode()) % 180


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(title="Inventory API", version="1.0")
    app.state.inventory = InventoryState(settings.latency_seconds)

    @app.get("/api/v1/stock/{item}", response_model=Stock)
    async def stock(state: StateDep, item: Annotated[str, Path(min_length=1, max_length=64)]) -> Stock:
        if state.latency_seconds > 0:
            await asyncio.sleep(state.latency_seconds)
        return Stock(item=item, available=available_for(item))

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    token = settings.hook_token.get_secret_value()
    levers = APIRouter(
        prefix="/_hooks", include_in_schema=False, dependencies=[Depends(require_bearer(lambda: token))]
    )

    @levers.post("/latency")
    async def latency(state: StateDep, body: LatencyIn) -> dict[str, float]:
        state.latency_seconds = body.seconds
        return {"seconds": body.seconds}

    app.include_router(levers)
    return app
