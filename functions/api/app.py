"""HTTP API: sessions, dispatch of chat turns and example runs, and run status."""


import base64
import json
import re
from pathlib import Path as FilePath
from typing import Annotated, Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer, Server, Tag
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths

from outreach import METRICS_NAMESPACE, SERVICE_NAME, runtime
from outreach.observability import service_logger, service_tracer
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
from outreach.limits import LIST_PAGE_DEFAULT, LIST_PAGE_MAX
from outreach.models.responses import Deleted, Dispatched, Error, Run, Session, SessionPage, json_content

logger = service_logger()
tracer = service_tracer()
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)
app = APIGatewayHttpResolver(enable_validation=True)

SESSION_ID_PATTERN = (
    r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}"
    r"|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$"
)
RUN_ID_PATTERN = r"^run_[0-9a-f]{24}$"
MAX_BODY_BYTES = 1024 * 1024
SessionId = Annotated[
    str,
    Path(
        pattern=SESSION_ID_PATTERN,
        description="The session's id: a uuid (versions 1-8, RFC 4122 variant), or the all-zero or all-f uuid "
        "(valid, never found). Off this pattern: 400.",
    ),
]
SESSIONS = "/api/campaigns/ai-chat-sessions"
OPENAPI_PATH = "/api/openapi.json"
SWAGGER_PATH = "/api/docs"


# ----------------------------------------------------------------- OpenAPI
# The document is generated from the routes below; `make openapi` writes it to openapi.json.
def _version() -> str:
    """The project's version (pyproject.toml); the deployed function has no pyproject and says 0.1.0."""
    try:
        import tomllib

        pyproject = FilePath(__file__).resolve().parents[2] / "pyproject.toml"
        return str(tomllib.loads(pyproject.read_text())["project"]["version"])
    except (OSError, KeyError, TypeError, ValueError, IndexError):
        return "0.1.0"


API_KEY, RUN_TOKEN = "apiKey", "runToken"
OPENAPI = {
    "title": "outreach",
    "version": _version(),
    "description": (
        "AI chat sessions that write an email framework for a campaign node, and per-lead sample emails "
        "written from it.\n\n"
        "**Authentication.** Every `/api/campaigns/...` call carries `Authorization: Bearer <api key>`; a key "
        "belongs to one workspace and sees only that workspace's sessions (another workspace's session is 404). "
        "`GET /api/runs/{run_id}` takes the run's `publicAccessToken` instead.\n\n"
        "**Errors.** Every error is JSON `{\"error\", \"code\"}`, with `details` (field problems) on validation "
        "errors. Bad input is 400 or 422, a body over 1 MiB 413, unknown routes 404, a wrong method 405.\n\n"
        "**Bodies.** JSON, whatever the Content-Type says. Unknown body fields are ignored everywhere.\n\n"
        "**Ids.** `{session_id}` must match the uuid pattern (else 400); an unknown id is 404."
    ),
    "servers": [Server(url="/")],
    "tags": [
        Tag(name="sessions", description="Create, read, change and delete AI chat sessions."),
        Tag(name="tasks", description="Start a chat turn or an example run: one task at a time per session."),
        Tag(name="runs", description="Read a run's status with its publicAccessToken."),
    ],
    "security_schemes": {
        API_KEY: HTTPBearer(description="The workspace's API key: `Authorization: Bearer <api key>`."),
        RUN_TOKEN: HTTPBearer(
            bearerFormat="JWT",
            description="A dispatch's `publicAccessToken`: short-lived, reads that one run and nothing else.",
        ),
    },
}
_ERRORS = {
    400: "Bad input: the body is not JSON (invalid_json) or the id is off its pattern (validation_error).",
    401: "No `Authorization: Bearer <api key>`, an unknown key, or a malformed header (unauthorized).",
    404: "No session with that id in the caller's workspace (session_not_found).",
    409: "Another task holds the session (session_busy): poll it until task_status is null, then retry.",
    413: "The request body is over 1 MiB (payload_too_large).",
    422: "The body or a query parameter fails validation (validation_error); `details` lists the problems.",
    500: "Internal error (internal_error); check the session's task_status before retrying.",
}


def _responses(status: int, model: type, description: str, errors: dict[int, str | None]) -> dict[int, dict]:
    """A route's ``responses=``: its success answer and the errors it can give (None: the usual sentence)."""
    out: dict[int, dict] = {status: {"description": description, "content": json_content(model)}}
    for code, text in sorted({**errors, 422: errors.get(422), 500: errors.get(500)}.items()):
        out[code] = {"description": text or _ERRORS[code], "content": json_content(Error)}
    return out


_SESSION_ERRORS = {400: None, 401: None, 404: None}
_BODY_ERRORS = {413: None}


def _json(status: int, body: Any) -> Response:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body))


def _campaign_id_required() -> BadRequest:
    return BadRequest("campaign_id is required: GET ...?campaign_id=<id>.", code="campaign_id_required")


def _workspace() -> str:
    """The caller's workspace, resolved from its API key before routing (see lambda_handler)."""
    return app.context["workspace_id"]


# ---------------------------------------------------------------- sessions
@app.post(
    SESSIONS,
    summary="Create a session",
    description="A new idle session for a campaign node. Unknown body fields are ignored.",
    operation_id="createSession",
    tags=["sessions"],
    security=[{API_KEY: []}],
    responses=_responses(201, Session, "The new session.", {400: "The body is not JSON (invalid_json).",
                                                          401: None, **_BODY_ERRORS}),
)
def create_session(body: CreateSessionRequest):
    return _json(201, sessions.create_session(runtime.store(), _workspace(), body))


@app.get(
    SESSIONS,
    summary="List a campaign's sessions",
    description=(
        "The caller's workspace's sessions of one campaign, oldest first, a page at a time, as summaries: every "
        "field but the lists (messages, generated_examples, skeleton_history, draft_history), plus "
        "message_count and example_count. Pass `next_cursor` back as `cursor` for the next page; it is null "
        "on the last page."
    ),
    operation_id="listSessions",
    tags=["sessions"],
    security=[{API_KEY: []}],
    responses=_responses(
        200, SessionPage, "A page of sessions.",
        {400: "No or an empty campaign_id (campaign_id_required), or a cursor this list did not give out "
         "for this workspace and campaign (invalid_cursor).", 401: None}
    ),
)
def list_sessions(
    campaign_id: Annotated[
        str, Query(max_length=128, description="The campaign whose sessions to list; missing or empty: 400.")
    ],
    limit: Annotated[int, Query(ge=1, le=LIST_PAGE_MAX, description="Sessions per page.")] = LIST_PAGE_DEFAULT,
    cursor: Annotated[
        str | None, Query(max_length=2048, description="The previous page's next_cursor; omit for the first page.")
    ] = None,
):
    workspace = _workspace()
    if not campaign_id:
        raise _campaign_id_required()
    secret = service_secret(settings())
    page = sessions.list_sessions(runtime.store(), secret, workspace, campaign_id, limit=limit, cursor=cursor or None)
    return _json(200, page)


@app.get(
    f"{SESSIONS}/<session_id>",
    summary="Read a session",
    operation_id="getSession",
    tags=["sessions"],
    security=[{API_KEY: []}],
    responses=_responses(200, Session, "The session.", _SESSION_ERRORS),
)
def get_session(session_id: SessionId):
    return _json(200, sessions.get_session(runtime.store(), _workspace(), session_id))


@app.patch(
    f"{SESSIONS}/<session_id>",
    summary="Change a session's title or draft",
    description=(
        "Changes only the fields named in the body: an explicit null clears, an omitted field stays. A changed "
        "draft pushes the previous one onto draft_history. Unknown body fields are ignored."
    ),
    operation_id="updateSession",
    tags=["sessions"],
    security=[{API_KEY: []}],
    responses=_responses(
        200,
        Session,
        "The updated session.",
        {**_SESSION_ERRORS, **_BODY_ERRORS,
         409: "A chat turn holds the session and the body changes the draft (session_busy: the turn would "
         "overwrite the edit; the title may change any time), or the session kept changing (update_conflict)."},
    ),
)
def update_session(session_id: SessionId, body: UpdateSessionRequest):
    return _json(200, sessions.update_session(runtime.store(), _workspace(), session_id, body))


@app.delete(
    f"{SESSIONS}/<session_id>",
    summary="Delete a session",
    operation_id="deleteSession",
    tags=["sessions"],
    security=[{API_KEY: []}],
    responses=_responses(200, Deleted, "Deleted: `{\"success\": true}`.", _SESSION_ERRORS),
)
def delete_session(session_id: SessionId):
    sessions.delete_session(runtime.store(), _workspace(), session_id)
    return _json(200, {"success": True})


# ------------------------------------------------------------------- tasks
@app.post(
    f"{SESSIONS}/<session_id>/turn",
    summary="Send a chat message",
    description=(
        "Claims the session (task_status `chat_processing`) and starts a chat turn: the message and the "
        "assistant's reply are appended to `messages`, and a framework the model gives replaces `skeleton`, the "
        "draft and bumps `framework_version`. Poll the session until task_status is null. Unknown body fields "
        "are ignored."
    ),
    operation_id="chatTurn",
    tags=["tasks"],
    security=[{API_KEY: []}],
    responses=_responses(
        200,
        Dispatched,
        "The turn was started.",
        {**_SESSION_ERRORS, **_BODY_ERRORS, 409: None,
         422: "The body fails validation (validation_error), a field would not fit what it is stored in "
         "(too_large, `details` names it), or the session holds its 500 messages (too_many_messages).",
         500: "The run could not be started (dispatch_failed); the session is free again, retry."},
    ),
)
def chat_turn(session_id: SessionId, body: ChatTurnRequest):
    workspace = _workspace()
    s = settings()
    out = runs.dispatch_chat_turn(
        runtime.store(), runtime.stepfunctions(), s, service_secret(s), workspace, session_id, body
    )
    metrics.add_metric(name="ChatTurnsDispatched", unit="Count", value=1)
    return _json(200, out)


@app.post(
    f"{SESSIONS}/<session_id>/generate-examples",
    summary="Write sample emails for leads",
    description=(
        "Claims the session (task_status `generating_examples`) and writes one email per lead (1 to 100) from "
        "the session's framework, in parallel. Results land in `generated_examples` in the leads' order: "
        "`isFirstBatch: true` replaces them, false appends (replacing an earlier example of the same lead). "
        "409 comes before 400 no_framework. Unknown body fields are ignored."
    ),
    operation_id="generateExamples",
    tags=["tasks"],
    security=[{API_KEY: []}],
    responses=_responses(
        200,
        Dispatched,
        "The run was started.",
        {**_SESSION_ERRORS, **_BODY_ERRORS, 409: None,
         400: "The body is not JSON (invalid_json), the id is off its pattern (validation_error), or the session "
         "has no framework yet (no_framework): chat first.",
         422: "The body fails validation (validation_error), a field would not fit what it is stored in "
         "(too_large, `details` names it), or the session would hold over 1,000 examples (too_many_examples).",
         500: "The run could not be started (dispatch_failed); the session is free again, retry."},
    ),
)
def generate_examples(session_id: SessionId, body: GenerateExamplesRequest):
    workspace = _workspace()
    s = settings()
    out = runs.dispatch_generate(
        runtime.store(), runtime.stepfunctions(), s, service_secret(s), workspace, session_id, body
    )
    metrics.add_metric(name="LeadsDispatched", unit="Count", value=len(body.leads))
    return _json(200, out)


# -------------------------------------------------------------------- runs
@app.get(
    "/api/runs/<run_id>",
    summary="Read a run",
    description="Status, progress and token usage of a run; a generate run lists the examples finished so far.",
    operation_id="getRun",
    tags=["runs"],
    security=[{RUN_TOKEN: []}],
    responses=_responses(
        200,
        Run,
        "The run.",
        {
            400: "The run id is over 64 characters (validation_error).",
            401: "No token, or an invalid or expired one (unauthorized, invalid_token, token_expired).",
            403: "The token reads another run (token_scope).",
            404: "No run with that id (run_not_found).",
        },
    ),
)
def get_run(run_id: Annotated[str, Path(max_length=64, description="The dispatch's runId: run_<24 hex>.")]):
    token = bearer(app.current_event.headers)
    check_run_token(service_secret(settings()), token, run_id)
    run = runtime.store().get_run(run_id) if re.match(RUN_ID_PATTERN, run_id) else None
    if run is None:
        raise NotFound("No run with that id.", code="run_not_found")
    return _json(200, runs.run_view(runtime.store(), run))


# ---------------------------------------------------------- documentation
_document: str | None = None


def openapi_document() -> str:
    """The API's OpenAPI document (JSON text), generated from the routes once."""
    global _document
    if _document is None:
        _document = app.get_openapi_json_schema(**OPENAPI)
    return _document


def write_openapi(path: str | FilePath) -> None:
    """Write the document to a file (`make openapi` writes openapi.json at the repo root)."""
    FilePath(path).write_text(openapi_document() + "\n", encoding="utf-8")


@app.get(OPENAPI_PATH, include_in_schema=False)
def openapi_json():
    return Response(status_code=200, content_type="application/json", body=openapi_document())


app.enable_swagger(path=SWAGGER_PATH, compress=True, **OPENAPI)


# ------------------------------------------------------------------ errors
@app.exception_handler(ApiError)
def api_error(error: ApiError) -> Response:
    return _json(error.status, error.body())


@app.exception_handler(RequestValidationError)
def validation_error(error: RequestValidationError):
    problems = error.errors()
    if any(tuple(p.get("loc", ())) == ("query", "campaign_id") and p.get("type") == "missing" for p in problems):
        return api_error(_campaign_id_required())  # the same 400 as an empty campaign_id
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
    return _json(500, {"error": "Internal error. Check the session's task_status before retrying.", "code": "internal_error"})


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


def _text_body(event: dict) -> tuple[dict, Response | None]:
    """The event with its body as text. API Gateway base64-encodes bodies it takes for binary; one that is not
    UTF-8 cannot be JSON: 400 for the methods that read a body (Powertools failed decoding it: 500)."""
    method = ((event.get("requestContext") or {}).get("http") or {}).get("method", "").upper()
    if not (event.get("isBase64Encoded") and event.get("body")) or method not in ("POST", "PATCH", "PUT"):
        return event, None
    try:
        text = base64.b64decode(event["body"], validate=True).decode("utf-8")
    except ValueError:  # binascii.Error and UnicodeDecodeError both are
        return event, _json(400, {"error": "The request body is not valid JSON.", "code": "invalid_json"})
    return {**event, "body": text, "isBase64Encoded": False}, None


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: Any) -> dict:
    refused, workspace = _refuse_early(event)
    if refused is None:
        event, refused = _text_body(event)
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
