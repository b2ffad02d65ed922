"""Session CRUD as the API exposes it."""

from __future__ import annotations

from typing import Any

from outreach.clock import new_session_id, now_epoch, now_iso
from outreach.dal.base import SessionStore
from outreach.dal.dynamodb import strip_internal
from outreach.errors import Conflict, SessionNotFound
from outreach.models.requests import CreateSessionRequest, UpdateSessionRequest

HISTORY_LIMIT = 20
_DEFAULTS: dict[str, Any] = {
    "title": None,
    "messages": [],
    "skeleton": None,
    "draft_subject": None,
    "draft_body": None,
    "skeleton_history": [],
    "draft_history": [],
    "framework_version": 0,
    "generated_examples": [],
    "task_status": None,
}


def session_view(item: dict[str, Any], now: int | None = None) -> dict[str, Any]:
    """The session as clients see it. A claim past its expiry counts as free, so it shows as idle."""
    stored = strip_internal(item)
    view = {"id": stored.get("id"), "campaign_id": stored.get("campaign_id"), "node_id": stored.get("node_id"),
            **_DEFAULTS, **stored}
    if view["task_status"] and int(item.get("task_expires_at") or 0) < (now or now_epoch()):
        view["task_status"] = None
    return view


def create_session(store: SessionStore, workspace_id: str, request: CreateSessionRequest) -> dict[str, Any]:
    now = now_iso()
    session = {
        **{k: v for k, v in _DEFAULTS.items() if k != "task_status"},
        "id": new_session_id(),
        "campaign_id": request.campaign_id,
        "node_id": request.node_id,
        "title": request.title,
        "created_at": now,
        "updated_at": now,
    }
    store.create_session(workspace_id, session)
    return session_view(session)


def get_session(store: SessionStore, workspace_id: str, session_id: str) -> dict[str, Any]:
    item = store.get_session(workspace_id, session_id)
    if item is None:
        raise SessionNotFound()
    return session_view(item)


def list_sessions(store: SessionStore, workspace_id: str, campaign_id: str) -> list[dict[str, Any]]:
    items = store.list_sessions(workspace_id, campaign_id)
    return [session_view(i) for i in sorted(items, key=lambda i: (i["created_at"], i["id"]))]


def update_session(
    store: SessionStore, workspace_id: str, session_id: str, request: UpdateSessionRequest
) -> dict[str, Any]:
    changes = request.changes()
    for _ in range(5):  # optimistic: re-read and retry when another write landed in between
        item = store.get_session(workspace_id, session_id)
        if item is None:
            raise SessionNotFound()
        if not changes:
            return session_view(item)
        fields = dict(changes)
        draft_changes = {k for k in ("draft_subject", "draft_body") if k in changes and changes[k] != item.get(k)}
        if draft_changes and (item.get("draft_subject") or item.get("draft_body")):
            entry = {
                "draft_subject": item.get("draft_subject"),
                "draft_body": item.get("draft_body"),
                "framework_version": item.get("framework_version", 0),
                "replaced_at": now_iso(),
            }
            fields["draft_history"] = (list(item.get("draft_history") or []) + [entry])[-HISTORY_LIMIT:]
        fields["updated_at"] = now_iso()
        updated = store.update_session(workspace_id, session_id, fields, expected_updated_at=item["updated_at"])
        if updated is not None:
            return session_view(updated)
    raise Conflict("The session kept changing while it was being updated. Retry.", code="update_conflict")


def delete_session(store: SessionStore, workspace_id: str, session_id: str) -> None:
    if not store.delete_session(workspace_id, session_id):
        raise SessionNotFound()
