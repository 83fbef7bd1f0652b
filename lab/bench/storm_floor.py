"""The storm's floor: the least an HTTP intake of Alertmanager notifications can do, measured in the same
run as the agent so that the agent's numbers read against this machine, not against a number from
elsewhere.

A bare FastAPI app on uvicorn, served as the agent is (`python -m agent`'s options): it reads the body,
validates it with the agent's own pydantic model and its default limits, and answers 202. No token, no
queue, no store, no workflow: what the agent costs beyond this is what its intake does.
`python -m lab.bench.storm_floor PORT` serves it on 127.0.0.1.
"""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from agent.intake.alertmanager import WebhookNotification

PATH = "/webhooks/alertmanager"


def create_floor_app() -> FastAPI:
    app = FastAPI(title="storm-floor")

    @app.post(PATH, status_code=202)
    async def accept(request: Request) -> JSONResponse:
        notification = WebhookNotification.model_validate_json(await request.body())
        return JSONResponse({"accepted": True, "alerts": len(notification.alerts)}, 202)

    return app


def main(argv: list[str]) -> None:
    uvicorn.run(
        create_floor_app(),
        host="127.0.0.1",
        port=int(argv[0]),
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
