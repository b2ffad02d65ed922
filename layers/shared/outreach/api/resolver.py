"""The API's resolver: the routers, the error answers, the OpenAPI document, and the event adapter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from outreach.api import errors, guards
from outreach.api.documentation import OPENAPI, OPENAPI_PATH, SWAGGER_PATH
from outreach.api.routes import runs, sessions, tasks

app = APIGatewayHttpResolver(enable_validation=True)
for module in (sessions, tasks, runs):
    app.include_router(module.router)
errors.register(app)

_document: str | None = None


def openapi_document() -> str:
    """The API's OpenAPI document (JSON text), generated from the routes once."""
    global _document
    if _document is None:
        _document = app.get_openapi_json_schema(**OPENAPI)
    return _document


def write_openapi(path: str | Path) -> None:
    """Write the document to a file (`make openapi` writes openapi.json at the repo root)."""
    Path(path).write_text(openapi_document() + "\n", encoding="utf-8")


@app.get(OPENAPI_PATH, include_in_schema=False)
def openapi_json():
    return Response(status_code=200, content_type="application/json", body=openapi_document())


app.enable_swagger(path=SWAGGER_PATH, compress=True, **OPENAPI)


def resolve(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Adapt an API Gateway HTTP API (v2) event: the guards first, then the routes."""
    try:
        workspace = guards.workspace_of(event)
        event = guards.as_json_event(event)
    except guards.Refused as refused:
        return refused.answer
    app.append_context(workspace_id=workspace)
    return app.resolve(event, context)
