"""Runbooks as the agent has them: the proposed amendments waiting for a person's review."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from pydantic import BaseModel

from agent.api.deps import RuntimeDep
from agent.api.responses import reads
from agent.learning.proposed import ProposedAmendment

router = APIRouter(prefix="/agent/runbooks")


class ProposedList(BaseModel):
    enabled: bool
    proposals: list[ProposedAmendment]
    count: int


@router.get("/proposed", responses=reads())
async def proposed(runtime: RuntimeDep) -> ProposedList:
    """Files in RUNBOOKS_PATH/proposed: what incidents taught a runbook; the agent never applies them."""
    if runtime.amendments is None:
        return ProposedList(enabled=False, proposals=[], count=0)
    found = await asyncio.to_thread(runtime.amendments.list)
    return ProposedList(enabled=True, proposals=found, count=len(found))
