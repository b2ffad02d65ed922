"""Response bodies of the API, as its OpenAPI document describes them.

Documentation only: the handlers build their answers as plain dicts (logic/sessions.py, logic/runs.py,
errors.py) and these models are named in each route's ``responses=`` so the document says what comes back.
Objects may gain fields over time; clients should ignore the ones they do not know.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from outreach.limits import MAX_EXAMPLES, MAX_MESSAGES
from outreach.models.llm import Skeleton
from outreach.models.requests import Lead

RUN_ID_PATTERN = r"^run_[0-9a-f]{24}$"
Timestamp = datetime  # ISO 8601, UTC ("2025-01-31T12:00:00.000Z")


class Message(BaseModel):
    role: Literal["user", "assistant"]
    content: str
    created_at: Timestamp


class DraftVersion(BaseModel):
    """A draft as it was before it was replaced (by a chat turn or a PATCH)."""

    draft_subject: str | None
    draft_body: str | None
    framework_version: int = Field(ge=0)
    replaced_at: Timestamp


class Example(BaseModel):
    """One lead's sample email, as written by a generate-examples run."""

    lead_id: str = Field(description="Stable for the same lead: its linkedin_url, else a hash of names and company.")
    lead: Lead = Field(description="The lead as it was sent.")
    subject: str | None
    body: str | None
    status: Literal["completed", "failed"]
    error: str | None = Field(description="Why the lead failed; null when completed.")
    run_id: str = Field(pattern=RUN_ID_PATTERN)
    framework_version: int = Field(ge=0, description="The session's framework_version the email was written from.")
    created_at: Timestamp


class Session(BaseModel):
    """An AI chat session: the conversation, the email framework it produced, and the examples written from it."""

    id: UUID = Field(description="uuid4.")
    campaign_id: str
    node_id: str
    title: str | None
    messages: list[Message] = Field(description=f"The conversation, oldest first; at most {MAX_MESSAGES}.")
    skeleton: Skeleton | None = Field(description="The email framework; null until a chat turn produces one.")
    draft_subject: str | None = Field(description="Template subject; may hold %variable% placeholders.")
    draft_body: str | None = Field(description="Template body; may hold %variable% placeholders.")
    skeleton_history: list[Skeleton] = Field(description="Earlier skeletons, newest last.")
    draft_history: list[DraftVersion] = Field(description="Earlier drafts, newest last.")
    framework_version: int = Field(ge=0, description="Bumped whenever the skeleton changes.")
    generated_examples: list[Example] = Field(
        description=f"In the order of the requests' leads; at most {MAX_EXAMPLES}."
    )
    task_status: Literal["chat_processing", "generating_examples"] | None = Field(
        description="null when idle; else the task that holds the session (a second task answers 409)."
    )
    created_at: Timestamp
    updated_at: Timestamp


class SessionSummary(BaseModel):
    """A listed session: every field but the lists, and how many messages and examples it holds."""

    id: UUID = Field(description="uuid4.")
    campaign_id: str
    node_id: str
    title: str | None
    skeleton: Skeleton | None
    draft_subject: str | None
    draft_body: str | None
    framework_version: int = Field(ge=0)
    task_status: Literal["chat_processing", "generating_examples"] | None
    created_at: Timestamp
    updated_at: Timestamp
    message_count: int = Field(ge=0, le=MAX_MESSAGES)
    example_count: int = Field(ge=0, le=MAX_EXAMPLES)


class SessionPage(BaseModel):
    sessions: list[SessionSummary] = Field(description="A page of the caller's sessions of that campaign, by created_at.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class Dispatched(BaseModel):
    """A run was started. Poll the session (API key) or the run (its token) until it ends."""

    runId: str = Field(pattern=RUN_ID_PATTERN)
    publicAccessToken: str = Field(
        description="A short-lived signed token (JWT) that reads this run only: GET /api/runs/{runId}."
    )


class Deleted(BaseModel):
    success: bool


class Progress(BaseModel):
    total: int = Field(ge=0)
    completed: int = Field(ge=0)
    failed: int = Field(ge=0)


class Usage(BaseModel):
    input_tokens: int = Field(ge=0)
    cached_input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)


class Run(BaseModel):
    """A chat turn or a generate-examples run, as its token holder sees it."""

    id: str = Field(pattern=RUN_ID_PATTERN)
    kind: Literal["generate_examples", "chat_turn"]
    status: Literal["QUEUED", "EXECUTING", "COMPLETED", "FAILED"]
    session_id: UUID
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    error: str | None = Field(description="Why the run failed; null otherwise.")
    progress: Progress
    usage: Usage
    examples: list[Example] = Field(
        default_factory=list, description="generate_examples runs only: the leads finished so far."
    )


class FieldProblem(BaseModel):
    loc: list[str] = Field(description='Where: ["body", "leads", "0", "first_name"], ["query", ...], ["path", ...].')
    msg: str
    type: str


class Error(BaseModel):
    """Every error answer."""

    error: str = Field(description="A sentence a person can act on.")
    code: str = Field(description="snake_case, stable: e.g. session_not_found, session_busy, validation_error.")
    details: list[FieldProblem] = Field(
        default_factory=list, description="Validation errors only: the field problems (input never echoed)."
    )


def json_content(model: type[BaseModel]) -> dict[str, Any]:
    """The ``content`` of a Powertools ``responses=`` entry for a JSON body."""
    return {"application/json": {"model": model}}


__all__ = [
    "Deleted",
    "Dispatched",
    "DraftVersion",
    "Error",
    "Example",
    "FieldProblem",
    "Message",
    "Progress",
    "Run",
    "Session",
    "SessionPage",
    "SessionSummary",
    "Usage",
    "json_content",
]
