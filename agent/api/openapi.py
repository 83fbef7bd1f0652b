"""The OpenAPI document with what only the running agent knows: the runbook ids a resolution may name.

Runbooks are files people edit while the agent runs, so the ids are filled in each time the document
is served (the rest of it is built once). An app given fixed runbooks knows them before it starts; one
reading RUNBOOKS_PATH, built offline, says the field's pattern and where the list is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI


def with_runbook_ids(app: FastAPI, fixed: Sequence[Any] | None = None) -> Callable[[], dict[str, Any]]:
    """`app.openapi` that lists the loaded runbook ids as the `enum` of a resolution's `diagnosis_id`."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        document = build()  # FastAPI keeps the built document in app.openapi_schema
        field = document["components"]["schemas"]["ResolutionRequest"]["properties"]["diagnosis_id"]
        runtime = getattr(app.state, "runtime", None)
        runbooks = runtime.runbooks() if runtime is not None else fixed or []
        ids = sorted({runbook.id for runbook in runbooks})
        if ids:
            field["enum"] = ids
        else:
            field.pop("enum", None)
        return document

    return openapi
