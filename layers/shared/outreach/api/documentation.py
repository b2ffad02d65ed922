"""The words of the OpenAPI document: its header, security schemes, and each route's error answers.

The document itself is generated from the routes (``resolver.openapi_document``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer, Server, Tag
from aws_lambda_powertools.event_handler.openapi.params import Path as PathParam

from outreach.models.responses import Error, json_content
from outreach.models.text import SESSION_ID_PATTERN

SESSIONS = "/api/campaigns/ai-chat-sessions"
RUNS = "/api/runs"
OPENAPI_PATH = "/api/openapi.json"
SWAGGER_PATH = "/api/docs"
MAX_BODY_BYTES = 1024 * 1024
API_KEY, RUN_TOKEN = "apiKey", "runToken"

SessionId = Annotated[
    str,
    PathParam(
        pattern=SESSION_ID_PATTERN,
        description="The session's id: a uuid (versions 1-8, RFC 4122 variant), or the all-zero or all-f uuid "
        "(valid, never found). Off this pattern: 400.",
    ),
]


def _version() -> str:
    """The project's version (pyproject.toml); the deployed function has no pyproject and says 0.1.0."""
    try:
        import tomllib

        pyproject = Path(__file__).resolve().parents[4] / "pyproject.toml"
        return str(tomllib.loads(pyproject.read_text())["project"]["version"])
    except (OSError, KeyError, TypeError, ValueError, IndexError):
        return "0.1.0"


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
SESSION_ERRORS: dict[int, str | None] = {400: None, 401: None, 404: None}
BODY_ERRORS: dict[int, str | None] = {413: None}


def responses(status: int, model: type, description: str, errors: dict[int, str | None]) -> dict[int, dict]:
    """A route's ``responses=``: its success answer and the errors it can give (None: the usual sentence)."""
    out: dict[int, dict] = {status: {"description": description, "content": json_content(model)}}
    for code, text in sorted({**errors, 422: errors.get(422), 500: errors.get(500)}.items()):
        out[code] = {"description": text or _ERRORS[code], "content": json_content(Error)}
    return out
