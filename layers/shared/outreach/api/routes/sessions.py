"""Sessions: create, list a campaign's, read, change, delete."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from outreach import runtime
from outreach.api.documentation import API_KEY, BODY_ERRORS, SESSION_ERRORS, SESSIONS, SessionId, responses
from outreach.api.errors import answer, campaign_id_required
from outreach.config import settings
from outreach.limits import LIST_PAGE_DEFAULT, LIST_PAGE_MAX, MAX_EXAMPLES, MAX_MESSAGES, PAGE_DEFAULT
from outreach.logic import session_pages, sessions
from outreach.logic.auth import service_secret
from outreach.models.requests import CreateSessionRequest, UpdateSessionRequest
from outreach.models.responses import Deleted, ExamplePage, MessagePage, Session, SessionPage
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
    description=(
        "The caller's workspace's sessions of one campaign, oldest first, a page at a time, as summaries: every "
        "field but the lists (messages, generated_examples, skeleton_history, draft_history), plus "
        "message_count and example_count. Pass `next_cursor` back as `cursor` for the next page; it is null "
        "on the last page."
    ),
    operation_id="listSessions",
    tags=["sessions"],
    security=[{API_KEY: []}],
    responses=responses(
        200, SessionPage, "A page of sessions.",
        {400: "No, an empty or a blank campaign_id (campaign_id_required), or a cursor this list did not give "
         "out for this workspace and campaign (invalid_cursor).", 401: None}
    ),
)
def list_sessions(
    campaign_id: Annotated[
        str,
        Query(min_length=1, max_length=128, pattern=NON_BLANK,
              description="The campaign whose sessions to list; missing, empty or blank: 400."),
    ],
    limit: Annotated[int, Query(ge=1, le=LIST_PAGE_MAX, description="Sessions per page.")] = LIST_PAGE_DEFAULT,
    cursor: Annotated[
        str | None, Query(max_length=2048, description="The previous page's next_cursor; omit for the first page.")
    ] = None,
) -> Response[SessionPage]:
    caller = workspace()
    if not campaign_id:
        raise campaign_id_required()
    secret = service_secret(settings())
    page = sessions.list_sessions(runtime.store(), secret, caller, campaign_id, limit=limit, cursor=cursor or None)
    return answer(200, page)


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


PAGE_CURSOR = Query(max_length=2048, description="The session's or the last page's cursor; omit to start at the top.")


@router.get(
    f"{SESSIONS}/<session_id>/messages",
    summary="Page through a session's messages",
    description=(
        "The chat, oldest first, a page at a time: for a session whose answer carries only the first messages "
        "(`messages_next_cursor`), or to read a long chat in parts. A page also ends early where the 6 MB an "
        "answer may carry would be passed."
    ),
    operation_id="listSessionMessages",
    tags=["sessions"],
    security=[{API_KEY: []}],
    responses=responses(200, MessagePage, "A page of messages.", {
        **SESSION_ERRORS, 400: "A bad session id (validation_error), or a cursor this session's messages did "
        "not give out (invalid_cursor)."}),
)
def list_messages(
    session_id: SessionId,
    limit: Annotated[int, Query(ge=1, le=MAX_MESSAGES, description="Messages per page.")] = PAGE_DEFAULT,
    cursor: Annotated[str | None, PAGE_CURSOR] = None,
) -> Response[MessagePage]:
    page = session_pages.messages_page(runtime.store(), workspace(), session_id, limit=limit, cursor=cursor or None)
    return answer(200, page)


@router.get(
    f"{SESSIONS}/<session_id>/examples",
    summary="Page through a session's examples",
    description=(
        "The generated examples in the session's order, a page at a time: for a session whose answer carries "
        "only the first ones (`generated_examples_next_cursor`). A cursor pages one set of examples: once a run "
        "has changed them it is 409 examples_changed (read the session again)."
    ),
    operation_id="listSessionExamples",
    tags=["sessions"],
    security=[{API_KEY: []}],
    responses=responses(200, ExamplePage, "A page of examples.", {
        **SESSION_ERRORS, 400: "A bad session id (validation_error), or a cursor this session's examples did "
        "not give out (invalid_cursor).",
        409: "A run changed the examples since the cursor was given out (examples_changed)."}),
)
def list_examples(
    session_id: SessionId,
    limit: Annotated[int, Query(ge=1, le=MAX_EXAMPLES, description="Examples per page.")] = PAGE_DEFAULT,
    cursor: Annotated[str | None, PAGE_CURSOR] = None,
) -> Response[ExamplePage]:
    page = session_pages.examples_page(runtime.store(), workspace(), session_id, limit=limit, cursor=cursor or None)
    return answer(200, page)


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
        {**SESSION_ERRORS, **BODY_ERRORS,
         409: "A chat turn holds the session and the body changes the draft (session_busy: the turn would "
         "overwrite the edit; the title may change any time), or the session kept changing (update_conflict)."},
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
