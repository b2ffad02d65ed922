"""The items the store keeps, as entity models: validated before every write and returned by every read.

One place to read what each item holds, typed as it is stored. The store adds and strips its own key attributes
(pk, sk, gsi1pk, gsi1sk); everything else an item holds is declared here, including what the store and the
workers add over an item's life (a run's status and finish, a lead's result). Unknown attributes are kept
(``extra="allow"``) so that an item written by another version still reads and shows as before; logic/ never
reads them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TaskStatus = Literal["chat_processing", "generating_examples"]
RunKind = Literal["generate_examples", "chat_turn"]
RunStatus = Literal["QUEUED", "EXECUTING", "COMPLETED", "FAILED", "CANCELED"]


class _Item(BaseModel):
    model_config = ConfigDict(extra="allow")


class SessionItem(_Item):
    """``S#<id>`` / ``SESSION``: the session's scalars; its lists live as their own items."""

    id: str
    campaign_id: str
    node_id: str
    title: str | None = None
    skeleton: dict[str, Any] | None = None
    draft_subject: str | None = None
    draft_body: str | None = None
    skeleton_history: list[dict[str, Any]] = Field(default_factory=list)
    draft_history: list[dict[str, Any]] = Field(default_factory=list)
    framework_version: int = Field(default=0, ge=0)
    created_at: str
    updated_at: str
    # The store's own: whose it is, how many messages it holds, which example versions it shows, in order
    # (dal/dynamodb.py), and the claim of the run that holds it (absent while free).
    workspace_id: str
    message_count: int = Field(default=0, ge=0)
    example_manifest: list[str] = Field(default_factory=list)
    task_status: TaskStatus | None = None
    task_run_id: str | None = None
    task_expires_at: int | None = None


class TokenUsage(_Item):
    """LLM tokens: of one lead's calls, or summed over a run."""

    input_tokens: int = Field(default=0, ge=0)
    cached_input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            input_tokens=self.input_tokens + other.input_tokens,
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
        )


class ReviewFlag(_Item):
    """One check that fired on an email (outreach.review)."""

    check: str
    detail: str
    evidence: list[str]


class EmailReview(_Item):
    """An email's review (outreach.review): the verdict, the checks that fired, the model calls behind it."""

    verdict: Literal["ok", "needs_review"]
    flags: list[ReviewFlag]
    attempts: int = Field(ge=1)


class MessageItem(_Item):
    """``S#<id>`` / ``MSG#<n>``: one chat message."""

    role: Literal["user", "assistant"]
    content: str
    created_at: str


class ExampleItem(_Item):
    """``S#<id>`` / ``EX#<lead key>#<run id>``: one version of one lead's example."""

    lead_id: str
    lead: dict[str, Any]
    subject: str | None
    body: str | None
    status: Literal["completed", "failed"]
    error: str | None
    run_id: str
    framework_version: int = Field(ge=0)
    created_at: str | None
    review: EmailReview | None = None  # None when the lead failed


class SessionDetail(SessionItem):
    """A session as ``read_session`` returns it: the session item with its messages and shown examples, in order."""

    messages: list[MessageItem] = Field(default_factory=list)
    generated_examples: list[ExampleItem] = Field(default_factory=list)


class RunContext(_Item):
    """What a run's workers build their prompts from, copied from the request and the session at dispatch."""

    sequence_context: dict[str, Any] | None = None
    # A generate run: the framework the claim froze, and how its examples merge.
    skeleton: dict[str, Any] | None = None
    draft_subject: str | None = None
    draft_body: str | None = None
    framework_version: int = Field(default=0, ge=0)
    is_first_batch: bool = False
    # A chat turn: the user's message and what the framework may use.
    message: str | None = None
    message_created_at: str | None = None
    available_var_names: list[str] = Field(default_factory=list)
    sample_leads: list[dict[str, Any]] = Field(default_factory=list)


class RosterEntry(_Item):
    """One lead of a generate run as the other-lead check knows it (logic/review.py): never sent to a model."""

    full_name: str | None = None
    company: str | None = None


class RunWebhook(_Item):
    """Where the run's end is POSTed (logic/webhooks.py)."""

    url: str


class RunProgress(_Item):
    total: int = Field(ge=0)
    completed: int = Field(ge=0)
    failed: int = Field(ge=0)


class RunItem(_Item):
    """``R#<id>`` / ``RUN``: a run and the input context its workers need, then how it ended."""

    id: str
    kind: RunKind
    status: RunStatus
    session_id: str
    workspace_id: str
    created_at: str
    total: int = Field(ge=0)
    context: RunContext
    expires_at: int
    roster: list[RosterEntry] | None = None  # generate runs; None on runs dispatched before runs carried one
    idempotency_key: str | None = None  # the fingerprint of the keyed dispatch that started it
    webhook: RunWebhook | None = None
    # Set as the run goes: when a worker first ran, when and how it ended (a generate run's tallies).
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None
    progress: RunProgress | None = None  # a generate run's, as its aggregate or failure path counted it
    usage: TokenUsage | None = None


class LeadItem(_Item):
    """``R#<id>`` / ``LEAD#<index>``: one lead of a generate run, then its result (written once, by its worker)."""

    index: int = Field(ge=0)
    lead: dict[str, Any]
    lead_id: str
    status: Literal["pending", "completed", "failed", "canceled"]
    expires_at: int
    subject: str | None = None
    body: str | None = None
    error: str | None = None
    review: EmailReview | None = None
    usage: TokenUsage | None = None
    model: str | None = None
    prompt_chars: int | None = None
    shared_prefix_chars: int | None = None
    latency_ms: int | None = None
    finished_at: str | None = None


class ApiKeyItem(_Item):
    """``K#<keyed hash>`` / ``APIKEY``: the workspace an API key opens (the key itself is never stored)."""

    key_hash: str = Field(min_length=64, max_length=64)
    workspace_id: str = Field(min_length=1)
    created_at: str
