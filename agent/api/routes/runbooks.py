"""Runbooks as the agent has them: each one's Markdown (what alert and escalation links open), and the
proposed amendments waiting for a person's review."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import APIRouter, HTTPException, Response, status
from fastapi.responses import PlainTextResponse
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


MARKDOWN = {"content": {"text/markdown": {"schema": {"type": "string"}}}, "description": "the runbook file"}


@router.get("/{file_name}", response_class=Response, responses={**reads(404), 200: MARKDOWN})
async def runbook(file_name: str, runtime: RuntimeDep) -> PlainTextResponse:
    """`<id>.md`: the runbook file the agent loaded under that id, as it is on disk (text/markdown)."""
    runbook_id = file_name.removesuffix(".md")
    found = next((rb for rb in runtime.runbooks() if rb.id == runbook_id), None)
    if not file_name.endswith(".md") or found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such runbook")
    try:
        text = await asyncio.to_thread(Path(found.path).read_text, encoding="utf-8")
    except OSError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such runbook") from None
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")
