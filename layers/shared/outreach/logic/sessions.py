"""Session CRUD as the API exposes it."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from outreach.clock import new_session_id, now_epoch, now_iso
from outreach.dal.base import SessionStore
from outreach.errors import Conflict, InvalidCursor, SessionBusy, SessionNotFound
from outreach.limits import (
    DRAFT_HISTORY_BYTES,
    LIST_PAGE_BYTES,
    SKELETON_HISTORY_BYTES,
    answer_size,
    newest_within,
)
from outreach.logic.session_pages import fit_session
from outreach.models.items import SessionItem
from outreach.models.requests import CreateSessionRequest, UpdateSessionRequest

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
_LISTS = {"messages", "generated_examples", "skeleton_history", "draft_history"}
# Stored on the session item for the store's own use, never shown.
_INTERNAL = {"workspace_id", "expires_at", "task_run_id", "task_expires_at", "example_manifest", "message_count",
             "example_count"}
CHAT = "chat_processing"


def _claim_live(item: SessionItem, now: int | None = None) -> bool:
    return bool(item.task_status) and (item.task_expires_at or 0) >= (now or now_epoch())


def session_view(item: SessionItem, now: int | None = None, *, without: set[str] = frozenset()) -> dict[str, Any]:
    """The session as clients see it (the Session answer), from what was stored: the attributes it holds, the
    defaults of those it does not. A claim past its expiry counts as free, so it shows as idle."""
    stored = item.model_dump(exclude_unset=True, exclude=_INTERNAL | without)
    view = {"id": item.id, "campaign_id": item.campaign_id, "node_id": item.node_id,
            **{k: v for k, v in _DEFAULTS.items() if k not in without}, **stored}
    view["task_status"] = item.task_status if _claim_live(item, now) else None
    return view


def session_summary(item: SessionItem, now: int | None = None) -> dict[str, Any]:
    """A listed session (the SessionSummary answer): every field but the lists, with how many messages and
    examples it holds."""
    view = session_view(item, now, without=_LISTS)
    view["message_count"] = item.message_count
    view["example_count"] = len(item.example_manifest)
    return view


def add_draft_history(history: list[dict], entry: dict) -> list[dict]:
    """Earlier drafts, newest last, as many of the newest as fit the session item's budget."""
    return newest_within(list(history or []) + [entry], DRAFT_HISTORY_BYTES)


def add_skeleton_history(history: list[dict], skeleton: dict) -> list[dict]:
    return newest_within(list(history or []) + [skeleton], SKELETON_HISTORY_BYTES)


def create_session(store: SessionStore, workspace_id: str, request: CreateSessionRequest) -> dict[str, Any]:
    now = now_iso()
    session = {
        **{k: v for k, v in _DEFAULTS.items() if k not in ("task_status", "messages", "generated_examples")},
        "id": new_session_id(),
        "campaign_id": request.campaign_id,
        "node_id": request.node_id,
        "title": request.title,
        "created_at": now,
        "updated_at": now,
    }
    return fit_session(session_view(store.create_session(workspace_id, session)), [])


def get_session(store: SessionStore, workspace_id: str, session_id: str) -> dict[str, Any]:
    """The session, its lists cut to what one answer can carry (logic/session_pages.py)."""
    item = store.read_session(workspace_id, session_id)
    if item is None:
        raise SessionNotFound()
    return fit_session(session_view(item), item.example_manifest)


# ------------------------------------------------------------------ paging
def _cursor_key(secret: bytes) -> bytes:
    return hmac.new(secret, b"list-cursor", hashlib.sha256).digest()


def _cursor_mac(secret: bytes, workspace_id: str, campaign_id: str, payload: bytes) -> str:
    scope = f"{workspace_id}\x1f{campaign_id}\x1f".encode()
    return base64.urlsafe_b64encode(hmac.new(_cursor_key(secret), scope + payload, hashlib.sha256).digest()).decode()


def encode_cursor(secret: bytes, workspace_id: str, campaign_id: str, key: dict[str, str]) -> str:
    """Opaque to clients and bound to the workspace and campaign it lists: signed with the service secret."""
    payload = json.dumps(key, separators=(",", ":"), sort_keys=True).encode()
    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{body}.{_cursor_mac(secret, workspace_id, campaign_id, payload).rstrip('=')}"


def decode_cursor(secret: bytes, workspace_id: str, campaign_id: str, cursor: str) -> dict[str, str]:
    body, _, mac = cursor.partition(".")
    try:
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise InvalidCursor() from None
    expected = _cursor_mac(secret, workspace_id, campaign_id, payload).rstrip("=")
    if not mac or not hmac.compare_digest(mac.encode(), expected.encode()):
        raise InvalidCursor()
    key = json.loads(payload)
    if not isinstance(key, dict) or not all(isinstance(v, str) for v in key.values()):
        raise InvalidCursor()
    return key


def list_sessions(
    store: SessionStore, secret: bytes, workspace_id: str, campaign_id: str, *, limit: int, cursor: str | None
) -> dict[str, Any]:
    """One page of a campaign's sessions as summaries, oldest first, and the cursor of the next page."""
    start = decode_cursor(secret, workspace_id, campaign_id, cursor) if cursor else None
    items, next_key = store.list_sessions(workspace_id, campaign_id, limit=limit, start_key=start)
    now = now_epoch()
    sessions: list[dict[str, Any]] = []
    used = 0
    for i, item in enumerate(items):
        summary = session_summary(item, now)
        used += answer_size(summary)  # counted as Lambda counts its answer (escapes included), not as stored
        if sessions and used > LIST_PAGE_BYTES:  # a page of huge drafts ends early, under Lambda's 6 MB
            next_key = store.page_key_after(items[i - 1])
            break
        sessions.append(summary)
    return {
        "sessions": sessions,
        "next_cursor": encode_cursor(secret, workspace_id, campaign_id, next_key) if next_key else None,
    }


# ------------------------------------------------------------------ update
def update_session(
    store: SessionStore, workspace_id: str, session_id: str, request: UpdateSessionRequest
) -> dict[str, Any]:
    """Apply a PATCH. Draft fields are refused (409) while a chat turn holds the session: the turn started
    from the current draft and would overwrite the edit when it ends. The title may change at any time."""
    changes = request.changes()
    for _ in range(5):  # optimistic: re-read and retry when another write landed in between
        item = store.get_session(workspace_id, session_id)
        if item is None:
            raise SessionNotFound()
        if not changes:
            return get_session(store, workspace_id, session_id)
        fields = dict(changes)
        draft_named = bool({"draft_subject", "draft_body"} & changes.keys())
        now = now_epoch()
        if draft_named and _claim_live(item, now) and item.task_status == CHAT:
            raise SessionBusy(CHAT)
        current = {"draft_subject": item.draft_subject, "draft_body": item.draft_body}
        draft_changes = {k for k in current if k in changes and changes[k] != current[k]}
        if draft_changes and (item.draft_subject or item.draft_body):
            entry = {
                "draft_subject": item.draft_subject,
                "draft_body": item.draft_body,
                "framework_version": item.framework_version,
                "replaced_at": now_iso(),
            }
            fields["draft_history"] = add_draft_history(item.draft_history, entry)
        fields["updated_at"] = now_iso()
        updated = store.update_session(
            workspace_id,
            session_id,
            fields,
            expected_updated_at=item.updated_at,
            unless_task=CHAT if draft_named else None,
            now=now,
        )
        if updated is not None:
            return get_session(store, workspace_id, session_id)
    raise Conflict("The session kept changing while it was being updated. Retry.", code="update_conflict")


def delete_session(store: SessionStore, workspace_id: str, session_id: str) -> None:
    if not store.delete_session(workspace_id, session_id):
        raise SessionNotFound()
