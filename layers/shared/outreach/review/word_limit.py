"""over_word_limit: the body is longer than the skeleton's max_words."""

from __future__ import annotations

from typing import Any

from outreach.review.text import word_count


def word_limit_of(skeleton: dict[str, Any] | None) -> int | None:
    try:
        limit = int((skeleton or {}).get("max_words") or 0)
    except (TypeError, ValueError):
        return None
    return limit if limit > 0 else None


def words_over_limit(body: str, skeleton: dict[str, Any] | None) -> tuple[int, int] | None:
    """(words, limit) when the body has more words than the framework allows, else None."""
    limit = word_limit_of(skeleton)
    if limit is None:
        return None
    words = word_count(body)
    return (words, limit) if words > limit else None
