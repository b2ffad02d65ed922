"""Figures of the data model at scale: a session after many top-ups and chat turns, and a large campaign list.

- the largest item in the table, in bytes (DynamoDB's limit is 400 KB), after 10 top-ups of 100 leads
  (1,200-character headlines) and 200 chat turns on one session;
- GET of that session (1,000 examples, 400 messages): p50 of 20 reads;
- listing a campaign of 500 sessions page by page (limit 100): p50 per page and the whole walk.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable

SESSIONS = "/api/campaigns/ai-chat-sessions"


def _item_bytes(item: dict) -> int:
    """An item's size as DynamoDB counts it, near enough: attribute names plus values, as JSON."""
    return len(json.dumps(item, ensure_ascii=False).encode())


def largest_item(stack) -> tuple[int, str]:
    pages = stack.client("dynamodb").get_paginator("scan").paginate(TableName=stack.table_name)
    best = (0, "")
    for page in pages:
        for item in page["Items"]:
            size = _item_bytes(item)
            if size > best[0]:
                best = (size, f"{item['pk']['S'].split('#')[0]}# / {item['sk']['S'].split('#')[0]}")
    return best


def _timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def measure(stack, api, *, top_ups: int = 10, turns: int = 200, listed: int = 500,
            progress: Callable[[str], None] = print) -> list[tuple[str, str, str, bool | None]]:
    """Rows of (figure, value, target, met or None)."""
    session = api.session_with_framework()
    sid = session["id"]
    progress(f"  {top_ups} top-ups of 100 leads …")
    for batch in range(top_ups):
        leads = [{"first_name": f"B{batch}L{i}", "company": "Acme", "headline": "Head of sales " + "h" * 1200}
                 for i in range(100)]
        answer = api.generate(sid, leads, isFirstBatch=batch == 0)
        assert answer.status == 200, answer.body
        api.wait_idle(sid, timeout_s=600)
    progress(f"  {turns} chat turns …")
    for n in range(turns):
        answer = api.turn(sid, f"Turn {n}: make the opener a little warmer.")
        assert answer.status == 200, answer.body
        api.wait_idle(sid, timeout_s=120)
    body = api.session(sid).body
    examples, messages = len(body["generated_examples"]), len(body["messages"])
    size, where = largest_item(stack)
    gets = [_timed(lambda: api.session(sid)) for _ in range(20)]
    progress(f"  listing {listed} sessions …")
    for i in range(listed):
        api.create_session(campaign_id="bench_list", node_id=f"n{i}")
    pages: list[float] = []
    seen, cursor = 0, None
    walk_started = time.perf_counter()
    while True:
        query = f"{SESSIONS}?campaign_id=bench_list&limit=100" + (f"&cursor={cursor}" if cursor else "")
        started = time.perf_counter()
        answer = api.call("GET", query)
        pages.append((time.perf_counter() - started) * 1000)
        seen += len(answer.body["sessions"])
        cursor = answer.body["next_cursor"]
        if cursor is None:
            break
    walk_ms = (time.perf_counter() - walk_started) * 1000
    return [
        (
            (f"largest item after {top_ups} × 100 leads and {turns} chat turns ({examples} examples, "
             f"{messages} messages on one session)"),
            f"{size:,} bytes ({where})", "< 400 KB", size < 400 * 1024,
        ),
        (f"GET of that session, p50 of {len(gets)}", f"{statistics.median(gets):.0f} ms", "", None),
        (f"list {seen} sessions, 100 a page: p50 per page, whole walk ({len(pages)} pages)",
         f"{statistics.median(pages):.0f} ms, {walk_ms:.0f} ms", "", None),
    ]
