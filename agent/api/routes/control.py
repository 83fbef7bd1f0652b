"""What the agent is doing and the one switch that stops it acting."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, StrictBool

from agent.api.deps import RuntimeDep
from agent.api.guard import access
from agent.api.responses import reads, writes
from agent.api.routes.health import probe_dependencies

router = APIRouter(prefix="/agent")


class KillSwitchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: StrictBool  # true = kill switch engaged = no remediation; 0 or "true" is refused


@router.get("/status", responses=reads())
async def agent_status(runtime: RuntimeDep) -> dict[str, Any]:
    settings = runtime.settings
    running = set(runtime.runner.running())
    return {
        "mode": settings.AGENT_MODE,
        "kill_switch_engaged": runtime.kill_switch.engaged,
        "remediation_enabled": not runtime.kill_switch.engaged,
        "circuit_breakers": runtime.breakers.snapshot(),
        "open_incidents": [
            {
                "id": i.id,
                "status": i.status,
                "step": i.step,
                "service": i.service,
                "diagnosis": i.diagnosis_id,
                "workflow_running": i.id in running,
            }
            for i in await runtime.store.unfinished()
        ],
        "dependencies": {
            name: probe.model_dump() for name, probe in (await probe_dependencies(runtime)).items()
        },
        "queue_depth": runtime.queue.depth,
        "monitor_enabled": runtime.monitor is not None,
        "llm_model": settings.LLM_MODEL or None,
        "runbooks": len(runtime.runbooks()),
        "services": {
            name: {
                "runbooks": len(runtime.deps.runbooks_for(service)),
                "signals": len(service.signal_names()),
                "packs": sorted(service.packs),
                "actions": sorted(service.entry.actions.allowed),
            }
            for name, service in sorted(runtime.catalog.services().items())
        },
        "unowned_alerts": await _unowned(runtime),
        "knowledge_store": runtime.knowledge is not None,
        "knowledge_backend": getattr(runtime.knowledge, "backend", None),
        "guardrails": {
            name: dataclasses.asdict(runtime.deps.limits(service))
            for name, service in sorted(runtime.catalog.services().items())
        },
        "notes": runtime.all_notes(),
        "access": access(settings).model_dump(),
    }


async def _unowned(runtime: RuntimeDep) -> dict[str, Any]:
    total, recent = await runtime.store.unowned(limit=10)
    return {"distinct": total, "recent": recent}


@router.post("/kill-switch", responses=writes(400))
async def kill_switch(body: KillSwitchRequest, runtime: RuntimeDep) -> dict[str, Any]:
    await runtime.kill_switch.set(body.enabled)
    return {
        "kill_switch_engaged": runtime.kill_switch.engaged,
        "remediation_enabled": not runtime.kill_switch.engaged,
    }
