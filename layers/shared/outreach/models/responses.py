"""Response bodies of the API: the routes return them (``Response[Model]``), so Powertools validates each answer.

The answers are built as plain dicts (logic/sessions.py, logic/runs.py) from what the service stored, and
validating them must never change or refuse them: every model here keeps exactly the keys it was given (no
defaults added, unknown keys kept: objects may gain fields over time, and clients should ignore the ones they
do not know), timestamps stay the strings that were stored, and a lead is returned as it was sent, not
re-validated against today's request limits. An answer that still fails validation is sent as it is and
logged (api/errors.py): data the service itself wrote is never turned into an error.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    field_serializer,
    field_validator,
    model_serializer,
)

from outreach.limits import MAX_EXAMPLES, MAX_MESSAGES
from outreach.models.items import RunProgress
from outreach.models.llm import Skeleton
from outreach.models.requests import Lead

RUN_ID_PATTERN = r"^run_[0-9a-f]{24}$"
# ISO 8601, UTC, milliseconds ("2025-01-31T12:00:00.000Z"): validated as text, so it is sent exactly as stored.
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]


class Answer(BaseModel):
    """A response body: serialises exactly the keys it was validated from (unknown ones included)."""

    model_config = ConfigDict(extra="allow")

    @model_serializer(mode="wrap")
    def _only_given_keys(self, handler: SerializerFunctionWrapHandler):
        given = self.model_fields_set | set(self.model_extra or {})
        return {key: value for key, value in handler(self).items() if key in given}


class Message(Answer):
    role: Literal["user", "assistant"]
    content: str
    created_at: Timestamp


class DraftVersion(Answer):
    """A draft as it was before it was replaced (by a chat turn or a PATCH)."""

    draft_subject: str | None
    draft_body: str | None
    framework_version: int = Field(ge=0)
    replaced_at: Timestamp


class ReviewFlag(Answer):
    check: Literal[
        "unresolved_placeholder", "ungrounded_fact", "other_lead", "over_word_limit", "spam_phrase", "review_error"
    ] = Field(description="Which check fired (README: Reviews).")
    detail: str = Field(description="What to do about it, in a sentence a rep can act on.")
    evidence: list[str] = Field(description="The exact strings of the email that made the check fire.")


class Review(Answer):
    """The service's own checks of one email against the inputs it was written from (not the model's)."""

    verdict: Literal["ok", "needs_review"] = Field(description="needs_review when any check fired.")
    flags: list[ReviewFlag]
    attempts: int = Field(ge=1, description="Model calls behind this email: 2 when it was asked once more.")


class ReviewTally(Answer):
    ok: int = Field(ge=0, description="Completed emails no check flagged.")
    needs_review: int = Field(ge=0, description="Completed emails with at least one flag.")


class Example(Answer):
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
    review: Review | None = Field(
        default=None, description="The checks' verdict on this email; null when the lead failed."
    )

    # The lead is returned as it was stored: not re-validated against today's request limits, nothing added.
    @field_validator("lead", mode="wrap")
    @classmethod
    def _lead_as_stored(cls, lead: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        return lead if isinstance(lead, dict) else handler(lead)

    @field_serializer("lead")
    def _lead_unchanged(self, lead: Any):  # no return annotation: the document keeps the Lead schema
        return lead


class Session(Answer):
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
    message_count: int = Field(ge=0, le=MAX_MESSAGES, description="How many messages the session holds.")
    example_count: int = Field(ge=0, le=MAX_EXAMPLES, description="How many examples the session holds.")
    messages_next_cursor: str | None = Field(
        description=(
            "null when `messages` holds them all. Else the answer would pass the 6 MB an answer may carry: "
            "`messages` holds the first ones and this continues them: GET .../{id}/messages?cursor=…"
        )
    )
    generated_examples_next_cursor: str | None = Field(
        description=(
            "null when `generated_examples` holds them all; else it continues them: GET .../{id}/examples?cursor=…"
        )
    )


class SessionSummary(Answer):
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


class SessionPage(Answer):
    sessions: list[SessionSummary] = Field(
        description="A page of the caller's sessions of that campaign, by created_at."
    )
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class MessagePage(Answer):
    messages: list[Message] = Field(description="The next messages, oldest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class ExamplePage(Answer):
    generated_examples: list[Example] = Field(description="The next examples, in the session's order.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class Dispatched(Answer):
    """A run was started. Poll the session (API key) or the run (its token) until it ends."""

    runId: str = Field(pattern=RUN_ID_PATTERN)
    publicAccessToken: str = Field(
        description="A short-lived signed token (JWT) that reads this run only: GET /api/runs/{runId}."
    )


class Deleted(Answer):
    success: bool


class Progress(Answer, RunProgress):
    """A run's leads: how many, and how many ended each way (the counts the run item stores)."""


class Usage(Answer):
    input_tokens: int = Field(ge=0)
    cached_input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)


class Run(Answer):
    """A chat turn or a generate-examples run, as its token holder sees it."""

    id: str = Field(pattern=RUN_ID_PATTERN)
    kind: Literal["generate_examples", "chat_turn"]
    status: Literal["QUEUED", "EXECUTING", "COMPLETED", "FAILED", "CANCELED"] = Field(
        description="QUEUED, then EXECUTING, then one final status: COMPLETED, FAILED or CANCELED "
        "(Trigger.dev's names)."
    )
    version: int = Field(
        ge=1,
        description="Grows with every change (a lead finished, a status change), never goes back; 1 for a new run. "
        "Send it back as `after` to wait for the next change.",
    )
    session_id: UUID
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    error: str | None = Field(description="Why the run failed; null otherwise.")
    progress: Progress
    usage: Usage
    review: ReviewTally | None = Field(
        default=None, description="generate_examples runs: the verdicts of the emails finished so far."
    )
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
    runId: str | None = Field(
        default=None,
        pattern=RUN_ID_PATTERN,
        description="idempotency_key_in_progress only: the run the first request with that key started, once known.",
    )
    status: str | None = Field(default=None, description="run_finished only: the run's final status.")


def json_content(model: type[BaseModel]) -> dict[str, Any]:
    """The ``content`` of a Powertools ``responses=`` entry for a JSON body."""
    return {"application/json": {"model": model}}


__all__ = [
    "Answer",
    "Deleted",
    "Dispatched",
    "DraftVersion",
    "Error",
    "Example",
    "FieldProblem",
    "Message",
    "Progress",
    "Review",
    "ReviewFlag",
    "ReviewTally",
    "Run",
    "Session",
    "SessionPage",
    "SessionSummary",
    "Usage",
    "json_content",
]
