"""HTTP API: sessions, dispatch of chat turns and example runs, and run status."""


import json
import re
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths

from outreach import runtime
from outreach.config import settings
from outreach.errors import ApiError, BadRequest, NotFound, PayloadTooLarge, Unauthorized
from outreach.logic import runs, sessions
from outreach.logic.auth import bearer, check_run_token, hash_api_key, service_secret
from outreach.models.requests import (
    ChatTurnRequest,
    CreateSessionRequest,
    GenerateExamplesRequest,
    UpdateSessionRequest,
)

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayHttpResolver(enable_validation=True)

SESSION_ID_PATTERN = (
    r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}"
    r"|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$"
)
RUN_ID_PATTERN = r"^run_[0-9a-f]{24}$"
MAX_BODY_BYTES = 1024 * 1024
SessionId = Annotated[str, Path(pattern=SESSION_ID_PATTERN, description="AI chat session UUID")]
SESSIONS = "/api/campaigns/ai-chat-sessions"


def _json(status: int, body: Any) -> Response:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body))


def _workspace() -> str:
    """The caller's workspace, resolved from its API key before routing (see lambda_handler)."""
    return app.context["workspace_id"]


# ---------------------------------------------------------------- sessions
@app.post(SESSIONS)
def create_session(body: CreateSessionRequest):
    return _json(201, sessions.create_session(runtime.store(), _workspace(), body))


@app.get(SESSIONS)
def list_sessions(campaign_id: Annotated[str | None, Query(max_length=128)] = None):
    workspace = _workspace()
    if not campaign_id:
        raise BadRequest("campaign_id is required: GET ...?campaign_id=<id>.", code="campaign_id_required")
    return _json(200, {"sessions": sessions.list_sessions(runtime.store(), workspace, campaign_id)})


@app.get(f"{SESSIONS}/<session_id>")
def get_session(session_id: SessionId):
    return _json(200, sessions.get_session(runtime.store(), _workspace(), session_id))


@app.patch(f"{SESSIONS}/<session_id>")
def update_session(session_id: SessionId, body: UpdateSessionRequest):
    return _json(200, sessions.update_session(runtime.store(), _workspace(), session_id, body))


@app.delete(f"{SESSIONS}/<session_id>")
def delete_session(session_id: SessionId):
    sessions.delete_session(runtime.store(), _workspace(), session_id)
    return _json(200, {"success": True})


# ------------------------------------------------------------------- tasks
@app.post(f"{SESSIONS}/<session_id>/turn")
def chat_turn(session_id: SessionId, body: ChatTurnRequest):
    workspace = _workspace()
    s = settings()
    out = runs.dispatch_chat_turn(
        runtime.store(), runtime.stepfunctions(), s, service_secret(s), workspace, session_id, body
    )
    metrics.add_metric(name="ChatTurnsDispatched", unit="Count", value=1)
    return _json(200, out)


@app.post(f"{SESSIONS}/<session_id>/generate-examples")
def generate_examples(session_id: SessionId, body: GenerateExamplesRequest):
    workspace = _workspace()
    s = settings()
    out = runs.dispatch_generate(
        runtime.store(), runtime.stepfunctions(), s, service_secret(s), workspace, session_id, body
    )
    metrics.add_metric(name="LeadsDispatched", unit="Count", value=len(body.leads))
    return _json(200, out)


# -------------------------------------------------------------------- runs
@app.get("/api/runs/<run_id>")
def get_run(run_id: Annotated[str, Path(max_length=64)]):
    token = bearer(app.current_event.headers)
    check_run_token(service_secret(settings()), token, run_id)
    run = runtime.store().get_run(run_id) if re.match(RUN_ID_PATTERN, run_id) else None
    if run is None:
        raise NotFound("No run with that id.", code="run_not_found")
    return _json(200, runs.run_view(runtime.store(), run))


# ------------------------------------------------------------------ errors
@app.exception_handler(ApiError)
def api_error(error: ApiError) -> Response:
    return _json(error.status, error.body())


@app.exception_handler(RequestValidationError)
def validation_error(error: RequestValidationError):
    problems = error.errors()
    if any(p.get("type") == "json_invalid" for p in problems):
        return _json(400, {"error": "The request body is not valid JSON.", "code": "invalid_json"})
    # Never echo the input back: it may hold lead data or secrets.
    details = [
        {"loc": [str(part) for part in p.get("loc", ())], "msg": str(p.get("msg", "")), "type": str(p.get("type", ""))}
        for p in problems
    ]
    first = details[0] if details else {"loc": [], "msg": "invalid"}
    where = ".".join(first["loc"][1:] if first["loc"][:1] in (["body"], ["path"], ["query"]) else first["loc"])
    message = f"Invalid request: {where}: {first['msg']}" if where else f"Invalid request: {first['msg']}"
    status = 400 if any(d["loc"][:1] == ["path"] for d in details) else 422
    return _json(status, {"error": message, "code": "validation_error", "details": details})


@app.not_found
def not_found(_: Exception) -> Response:
    path, method = app.current_event.path, app.current_event.http_method.upper()
    allowed = sorted({r.method for r in app._static_routes + app._dynamic_routes if r.rule.match(path)})
    if allowed and method not in allowed:
        error = {"error": f"{method} is not allowed here. Allowed: {', '.join(allowed)}.", "code": "method_not_allowed"}
        return Response(405, "application/json", json.dumps(error), headers={"Allow": ", ".join(allowed)})
    return _json(404, {"error": f"No route {method} {path}.", "code": "route_not_found"})


@app.exception_handler(Exception)
def unexpected(error: Exception) -> Response:
    logger.exception("unhandled error")
    return _json(500, {"error": "Internal error. Nothing was changed; retry later.", "code": "internal_error"})


def _refuse_early(event: dict) -> tuple[Response | None, str | None]:
    """Checks that come before routing and validation.

    A body over 1 MiB is refused unread (413), and a session call without a
    known API key gets 401 whatever else is wrong with it. Returns the error
    response, or the caller's workspace for session routes.
    """
    body = event.get("body") or ""
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode())
    try:
        if size > MAX_BODY_BYTES:
            raise PayloadTooLarge("The request body is over 1 MiB. Send fewer or smaller leads.")
        path = event.get("rawPath") or ""
        if path != SESSIONS and not path.startswith(f"{SESSIONS}/"):
            return None, None
        token = bearer(event.get("headers") or {})
        workspace = runtime.store().workspace_for_key(hash_api_key(service_secret(settings()), token))
        if workspace is None:
            raise Unauthorized("Unknown API key.", code="unauthorized")
        return None, workspace
    except ApiError as error:
        return _json(error.status, error.body()), None


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: Any) -> dict:
    refused, workspace = _refuse_early(event)
    if refused is not None:
        return {
            "statusCode": refused.status_code,
            "headers": {"Content-Type": "application/json"},
            "body": refused.body,
            "isBase64Encoded": False,
        }
    # A JSON-only API: parse every body as JSON whatever the client labels it (curl -d says form data).
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    headers["content-type"] = "application/json"
    app.append_context(workspace_id=workspace)
    return app.resolve({**event, "headers": headers}, context)
