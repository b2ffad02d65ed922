"""The shapes of the items the store writes, checked at its boundary (dal/dynamodb.py validates before writing).

One place to read what each item holds; keys and the store's own attributes (pk, sk, gsi1*) are added by
the store. Unknown attributes are allowed so that older items still read.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


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


class RunItem(_Item):
    """``R#<id>`` / ``RUN``: a run and the input context its workers need."""

    id: str
    kind: Literal["generate_examples", "chat_turn"]
    status: Literal["QUEUED", "EXECUTING", "COMPLETED", "FAILED", "CANCELED"]
    session_id: str
    workspace_id: str
    created_at: str
    total: int = Field(ge=0)
    context: dict[str, Any]
    expires_at: int


class LeadItem(_Item):
    """``R#<id>`` / ``LEAD#<index>``: one lead of a generate run, then its result."""

    index: int = Field(ge=0)
    lead: dict[str, Any]
    lead_id: str
    status: Literal["pending", "completed", "failed", "canceled"]
    expires_at: int


class ApiKeyItem(_Item):
    """``K#<keyed hash>`` / ``APIKEY``: the workspace an API key opens (the key itself is never stored)."""

    key_hash: str = Field(min_length=64, max_length=64)
    workspace_id: str = Field(min_length=1)
    created_at: str
