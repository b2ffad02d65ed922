"""A session's two lists in parts that fit Lambda's 6 MB answer.

A session may hold 500 messages of 20,000 characters and 1,000 examples that each copy a lead of up to 100 KB:
far more than one answer can carry. The session answer shows as much of each list as fits (all of it, for
almost every session) and a cursor per list for the rest; ``GET .../{id}/messages`` and ``.../{id}/examples``
page on from there, oldest first. An examples cursor is tied to the manifest it paged: once a run changes the
examples, it is refused (409 examples_changed) rather than mixing two views.

A cursor names only the caller's own session, a list and an offset: nothing a client could not ask for
directly, so it is encoded, not signed (the campaign list's cursor is signed: it carries storage keys).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from typing import Any

from outreach.dal.base import SessionStore, manifest_version, version_of
from outreach.errors import ExamplesChanged, InvalidCursor, SessionNotFound
from outreach.limits import SESSION_LISTS_BYTES, answer_size

MESSAGES = "messages"
EXAMPLES = "generated_examples"


# ------------------------------------------------------------------ cursors
def encode_cursor(session_id: str, kind: str, offset: int, version: str) -> str:
    payload = json.dumps({"s": session_id, "k": kind, "o": offset, "v": version}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, session_id: str, kind: str) -> tuple[int, str]:
    """``(offset, version)`` of a cursor this session's list gave out; anything else is 400 invalid_cursor."""
    try:
        fields = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise InvalidCursor() from None
    if not isinstance(fields, dict) or fields.get("s") != session_id or fields.get("k") != kind:
        raise InvalidCursor()
    offset, version = fields.get("o"), fields.get("v")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0 or not isinstance(version, str):
        raise InvalidCursor()
    return offset, version


# ------------------------------------------------------------------ sizes
def _fitting(sizes: Iterable[int], budget: int, *, at_least_one: bool = False) -> int:
    """How many of the first entries, of these answer sizes, fit ``budget`` bytes of answer (read lazily: a
    page stops sizing at the first entry that does not fit)."""
    used = count = 0
    for count, size in enumerate(sizes, 1):
        used += size
        if used > budget:
            return max(count - 1, 1 if at_least_one else 0)
    return count


def _shares(need_m: int, need_e: int) -> tuple[int, int]:
    """The budget split between the lists: each gets what it needs if both fit, else the smaller list keeps
    what it needs up to half and the other gets the rest."""
    if need_m + need_e <= SESSION_LISTS_BYTES:
        return need_m, need_e
    half = SESSION_LISTS_BYTES // 2
    if need_m <= half:
        return need_m, SESSION_LISTS_BYTES - need_m
    if need_e <= half:
        return SESSION_LISTS_BYTES - need_e, need_e
    return half, half


def fit_session(view: dict[str, Any], manifest: list[str]) -> dict[str, Any]:
    """The session answer: both lists cut to what fits, with their totals and where each continues (null:
    nothing left)."""
    messages, examples = view.get(MESSAGES) or [], view.get(EXAMPLES) or []
    sizes_m, sizes_e = [answer_size(m) for m in messages], [answer_size(e) for e in examples]
    share_m, share_e = _shares(sum(sizes_m), sum(sizes_e))
    shown_m, shown_e = _fitting(sizes_m, share_m), _fitting(sizes_e, share_e)
    version = manifest_version(manifest)
    sid = str(view["id"])
    return {
        **view,
        MESSAGES: messages[:shown_m],
        EXAMPLES: examples[:shown_e],
        "message_count": len(messages),
        "example_count": len(examples),
        "messages_next_cursor": encode_cursor(sid, MESSAGES, shown_m, "") if shown_m < len(messages) else None,
        "generated_examples_next_cursor": (
            encode_cursor(sid, EXAMPLES, shown_e, version) if shown_e < len(examples) else None
        ),
    }


# ------------------------------------------------------------------ pages
def _page(session_id: str, kind: str, entries: list[dict[str, Any]], start: int, total: int,
          version: str) -> dict[str, Any]:
    shown = _fitting((answer_size(e) for e in entries), SESSION_LISTS_BYTES, at_least_one=True)
    end = start + shown
    following = encode_cursor(session_id, kind, end, version) if end < total else None
    return {kind: entries[:shown], "next_cursor": following}


def messages_page(store: SessionStore, workspace_id: str, session_id: str, *, limit: int,
                  cursor: str | None) -> dict[str, Any]:
    """Up to ``limit`` messages, oldest first, from where ``cursor`` left off (the start without one)."""
    item = store.get_session(workspace_id, session_id)
    if item is None:
        raise SessionNotFound()
    start = decode_cursor(cursor, session_id, MESSAGES)[0] if cursor else 0
    total = item.message_count
    read = store.get_messages(session_id, start, min(start + limit, total))
    messages = [m.model_dump(exclude_unset=True) for m in read]
    return _page(session_id, MESSAGES, messages, start, total, "")


def examples_page(store: SessionStore, workspace_id: str, session_id: str, *, limit: int,
                  cursor: str | None) -> dict[str, Any]:
    """Up to ``limit`` examples, in the session's order, from where ``cursor`` left off (the start without one)."""
    for _ in range(3):
        item = store.get_session(workspace_id, session_id)
        if item is None:
            raise SessionNotFound()
        manifest = item.example_manifest
        version = manifest_version(manifest)
        start = 0
        if cursor:
            start, paged = decode_cursor(cursor, session_id, EXAMPLES)
            if paged != version:
                raise ExamplesChanged()
        examples = store.get_examples(session_id, [version_of(e) for e in manifest[start : start + limit]])
        if examples is not None:  # None: a run replaced them between the two reads; read again
            shown = [e.model_dump(exclude_unset=True) for e in examples]
            return _page(session_id, EXAMPLES, shown, start, len(manifest), version)
    raise ExamplesChanged()
