"""What the agent would retrieve for a query: for people tuning runbooks and reading its memory."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel

from agent.api.deps import RuntimeDep
from agent.api.responses import reads
from agent.knowledge.store import ScoredIncident, ScoredRunbook

router = APIRouter(prefix="/agent/knowledge")


class KnowledgeSearch(BaseModel):
    query: str
    runbooks: list[ScoredRunbook]
    incidents: list[ScoredIncident]


@router.get("/search", responses=reads())
async def search_knowledge(
    runtime: RuntimeDep,
    q: str = Query(min_length=1, max_length=2000, description="symptoms, as words or as an alert would say"),
    k: int = Query(default=5, ge=1, le=50),
) -> KnowledgeSearch:
    if runtime.knowledge is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="the knowledge store is unavailable")
    runbooks = await asyncio.to_thread(runtime.knowledge.search_runbooks, q, k)  # may wait on Weaviate
    incidents = await asyncio.to_thread(runtime.knowledge.search_incidents, q, k)
    return KnowledgeSearch(query=q, runbooks=runbooks, incidents=incidents)
