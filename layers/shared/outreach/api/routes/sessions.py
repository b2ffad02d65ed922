"""Sessions: create, list a campaign's, read, change, delete."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from outreach import runtime
from outreach.api.documentation import API_KEY, BODY_ERRORS, SESSION_ERRORS, SESSIONS, SessionId, responses
from outreach.api.errors import answer, campaign_id_required
from outreach.logic import sessions
from outreach.models.requests import CreateSessionRequest, UpdateSessionRequest
from outreach.models.responses import Deleted, Session, SessionList
from outreach.models.text import NON_BLANK

router = APIGatewayHttpRouter()


def workspace() -> str:
    """The caller's workspace, resolved from its API key before routing (api/guards.py)."""
    return router.context["workspace_id"]


@router.post(
    SESSIONS,
    summary="Create a session",
    description="A new idle session for a campaign node. Unknown body fields are ignored.",
    operation_id="createSession",
    tags=["sessions"],
    security=[{API_KEY: []}],
    responses=responses(201, Session, "The new session.", {400: "The body is not JSON (invalid_json).",
                                                         401: None, **BODY_ERRORS}),
)
def create_session(body: CreateSessionRequest) -> Response[Session]:
    return answer(201, sessions.create_session(runtime.store(), workspace(), body))


@router.get(
    SESSIONS,
    summary="List a campaign's sessions",
    description="The caller's workspace's sessions of one campaign, oldest first.",
    operation_id="listSessions",
    tags=["sessions"],
    security=[{API_KEY: []}],
    responses=responses(
        200,
        SessionList,
        "The sessions.",
        {400: "No, an empty or a blank campaign_id (campaign_id_required).", 401: None},
    ),
)
def list_sessions(
    campaign_id: Annotated[
        str,
        Query(min_length=1, max_length=128, pattern=NON_BLANK,
              description="The campaign whose sessions to list; missing, empty or blank: 400."),
    ],
) -> Response[SessionList]:
    caller = workspace()
    if not campaign_id:
        raise campaign_id_required()
    return answer(200, {"sessions": sessions.list_sessions(runtime.store(), caller, campaign_id)})


@router.get(
    f"{SESSIONS}/<session_id>",
    summary="Read a session",
    operation_id="getSession",
    tags=["sessions"],
    security=[{API_KEY: []}],
    responses=responses(200, Session, "The session.", SESSION_ERRORS),
)
def get_session(session_id: SessionId) -> Response[Session]:
    return answer(200, sessions.get_session(runtime.store(), workspace(), session_id))


@router.patch(
    f"{SESSIONS}/<session_id>",
    summary="Change a session's title or draft",
    description=(
        "Changes only the fields named in the body: an explicit null clears, an omitted field stays. A changed "
        "draft pushes the previous one onto draft_history. Unknown body fields are ignored."
    ),
    operation_id="updateSession",
    tags=["sessions"],
    security=[{API_KEY: []}],
    responses=responses(
        200,
        Session,
        "The updated session.",
        {**SESSION_ERRORS, **BODY_ERRORS, 409: "The session kept changing while being updated (update_conflict)."},
    ),
)
def update_session(session_id: SessionId, body: UpdateSessionRequest) -> Response[Session]:
    return answer(200, sessions.update_session(runtime.store(), workspace(), session_id, body))


@router.delete(
    f"{SESSIONS}/<session_id>",
    summary="Delete a session",
    operation_id="deleteSession",
    tags=["sessions"],
    security=[{API_KEY: []}],
    responses=responses(200, Deleted, "Deleted: `{\"success\": true}`.", SESSION_ERRORS),
)
def delete_session(session_id: SessionId) -> Response[Deleted]:
    sessions.delete_session(runtime.store(), workspace(), session_id)
    return answer(200, {"success": True})
