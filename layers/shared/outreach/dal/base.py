"""What the domain logic needs from storage, as narrow interfaces; one DynamoDB class implements them all.

Each logic function is typed with the interface it uses, so a reader sees at a glance what a step may touch.
Writes take plain values (validated by the store); reads return the entity models of ``models/items.py``.
"""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

from outreach.models.items import ExampleItem, LeadItem, MessageItem, RunItem, SessionDetail, SessionItem

FINAL_STATUSES = ("COMPLETED", "FAILED", "CANCELED")


# A session's examples are shown in the order of its manifest: one entry per example, naming the
# version (lead key and run) to show and whether it completed, so a merge needs no example's body.
def example_lead_key(lead_id: str) -> str:
    """A short fixed-length key for a lead id (a linkedin_url can be 512 characters)."""
    return hashlib.sha256(lead_id.encode()).hexdigest()[:20]


def manifest_entry(lead_id_key: str, run_id: str, status: str) -> str:
    return f"{lead_id_key}#{run_id}#{'c' if status == 'completed' else 'f'}"


def parse_manifest_entry(entry: str) -> tuple[str, str, str]:
    """``(lead key, run id, status)`` of a manifest entry."""
    key, run_id, status = entry.split("#")
    return key, run_id, "completed" if status == "c" else "failed"


def version_of(entry: str) -> str:
    """The example item's version (``<lead key>#<run id>``) a manifest entry names."""
    return entry.rsplit("#", 1)[0]


def manifest_version(manifest: list[str]) -> str:
    """A short fingerprint of a manifest: equal while the session shows the same examples in the same order."""
    return hashlib.sha256("\n".join(manifest).encode()).hexdigest()[:16]


class SessionStore(Protocol):
    """Sessions and their item collections (messages, examples), always scoped to a workspace:
    another workspace's session reads as absent."""

    def create_session(self, workspace_id: str, session: dict[str, Any]) -> SessionItem:
        """Store a new session; the item as stored."""

    def get_session(self, workspace_id: str, session_id: str) -> SessionItem | None:
        """The session item alone: scalars, counts and the example manifest, no messages or examples."""

    def read_session(self, workspace_id: str, session_id: str) -> SessionDetail | None:
        """The session with ``messages`` and ``generated_examples`` in order, as one consistent view."""

    def list_sessions(
        self, workspace_id: str, campaign_id: str, *, limit: int, start_key: dict[str, str] | None
    ) -> tuple[list[SessionItem], dict[str, str] | None]:
        """Up to ``limit`` session items, oldest first, and the key to continue after (None: last page)."""

    def page_key_after(self, session: SessionItem) -> dict[str, str]:
        """The key a listing of the session's campaign continues after (a page cut short ends at ``session``)."""

    def get_session_messages(self, workspace_id: str, session_id: str) -> list[MessageItem]:
        """The whole chat, oldest first (a lead's review reads it), without the examples."""

    def get_messages(self, session_id: str, start: int, stop: int) -> list[MessageItem]:
        """Messages ``start`` to ``stop - 1`` (numbered from 0), oldest first: a page of the chat."""

    def get_examples(self, session_id: str, versions: list[str]) -> list[ExampleItem] | None:
        """The example versions a manifest names, in that order; None when one is gone (the manifest moved on)."""

    def update_session(
        self,
        workspace_id: str,
        session_id: str,
        fields: dict[str, Any],
        *,
        expected_updated_at: str,
        unless_task: str | None = None,
        now: int = 0,
    ) -> SessionItem | None:
        """The session as written, or None when the condition failed."""

    def delete_session(self, workspace_id: str, session_id: str) -> bool: ...

    def claim_session(
        self,
        workspace_id: str,
        session_id: str,
        *,
        task_status: str,
        run_id: str,
        now: int,
        expires_at: int,
        require_skeleton: bool,
    ) -> SessionItem:
        """The session as claimed: the framework the run is grounded in."""

    def release_claim(self, session_id: str, run_id: str) -> bool: ...

    def recent_messages(self, session_id: str, message_count: int, max_chars: int) -> list[MessageItem]: ...

    def put_examples(self, session_id: str, examples: list[dict[str, Any]]) -> None: ...

    def example_version_keys(self, session_id: str) -> list[str]: ...

    def delete_example_versions(self, session_id: str, versions: list[str]) -> None: ...


class RunStore(Protocol):
    """Runs and their per-lead items."""

    def create_run(self, run: dict[str, Any], leads: list[dict[str, Any]]) -> None: ...

    def get_run(self, run_id: str) -> RunItem | None: ...

    def get_run_leads(self, run_id: str) -> list[LeadItem]:
        """A run's lead items, by index."""

    def get_lead(self, run_id: str, index: int) -> LeadItem | None: ...

    def get_run_and_lead(self, run_id: str, index: int) -> tuple[RunItem | None, LeadItem | None]: ...

    def mark_run_executing(self, run_id: str, now_iso: str) -> None: ...

    def record_lead(self, run_id: str, index: int, fields: dict[str, Any]) -> bool: ...

    def fail_run(self, run_id: str, run_fields: dict[str, Any]) -> bool: ...

    # Run control: cancel, and what a run's version is counted from.
    def cancel_run(self, run_id: str, run_fields: dict[str, Any]) -> bool: ...

    def cancel_pending_leads(self, run_id: str, now_iso: str) -> int: ...

    def count_finished_leads(self, run_id: str) -> int: ...


class RunSessionStore(SessionStore, RunStore, Protocol):
    """What finishing a run needs: both, and the one transaction that commits a run into its session."""

    def finish_run_with_session(
        self,
        run_id: str,
        session_id: str,
        session_fields: dict[str, Any],
        run_fields: dict[str, Any],
        *,
        new_messages: list[dict[str, Any]] = (),
        first_message: int = 0,
    ) -> None: ...


class LlmLeaseStore(Protocol):
    """A workspace's concurrent LLM calls, capped."""

    def acquire_llm_slot(self, workspace_id: str, lease_id: str, *, cap: int, now: int, expires_at: int) -> bool: ...

    def release_llm_slot(self, workspace_id: str, lease_id: str) -> None: ...


class LeadWorkerStore(RunStore, LlmLeaseStore, Protocol):
    """What one lead's worker touches: its run, its lead item, the workspace's LLM leases."""


class ApiKeyStore(Protocol):
    """API keys, stored as keyed hashes only."""

    def put_api_key(self, key_hash: str, workspace_id: str, created_at: str) -> None: ...

    def workspace_for_key(self, key_hash: str) -> str | None: ...
