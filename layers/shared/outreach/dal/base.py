"""The session store interface: what the domain logic needs from storage, nothing more."""

from __future__ import annotations

from typing import Any, Protocol


class SessionStore(Protocol):
    # Sessions, always scoped to a workspace: another workspace's session reads as absent.
    def create_session(self, workspace_id: str, session: dict[str, Any]) -> None: ...

    def get_session(self, workspace_id: str, session_id: str) -> dict[str, Any] | None: ...

    def list_sessions(self, workspace_id: str, campaign_id: str) -> list[dict[str, Any]]: ...

    def update_session(
        self, workspace_id: str, session_id: str, fields: dict[str, Any], *, expected_updated_at: str
    ) -> dict[str, Any] | None: ...

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
    ) -> dict[str, Any]: ...

    def release_claim(self, session_id: str, run_id: str) -> bool: ...

    # Runs and their per-lead items.
    def create_run(self, run: dict[str, Any], leads: list[dict[str, Any]]) -> None: ...

    def get_run(self, run_id: str) -> dict[str, Any] | None: ...

    def get_run_leads(self, run_id: str) -> list[dict[str, Any]]: ...

    def get_lead(self, run_id: str, index: int) -> dict[str, Any] | None: ...

    def get_run_and_lead(self, run_id: str, index: int) -> tuple[dict[str, Any] | None, dict[str, Any] | None]: ...

    def mark_run_executing(self, run_id: str, now_iso: str) -> None: ...

    def record_lead(self, run_id: str, index: int, fields: dict[str, Any]) -> bool: ...

    def finish_run_with_session(
        self, run_id: str, session_id: str, session_fields: dict[str, Any], run_fields: dict[str, Any]
    ) -> None: ...

    def fail_run(self, run_id: str, run_fields: dict[str, Any]) -> bool: ...

    # API keys, stored as keyed hashes only.
    def put_api_key(self, key_hash: str, workspace_id: str, created_at: str) -> None: ...

    def workspace_for_key(self, key_hash: str) -> str | None: ...
