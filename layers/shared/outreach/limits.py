"""Every size limit the store depends on, in one place.

DynamoDB refuses any item over 400 KB, so everything a request stores is bounded here and checked
before the session is claimed (a 422 naming the field, never a 500). Sizes are UTF-8 bytes of the
JSON a value is stored as, which is what DynamoDB counts, give or take the attribute names.
"""

from __future__ import annotations

import json
from typing import Any

MAX_EXAMPLES = 1000  # generated_examples of one session
MAX_MESSAGES = 500  # chat messages of one session (250 turns)
MAX_LEAD_BYTES = 100_000  # one lead as sent: stored in its run's lead item and in its example item
MAX_SEQUENCE_CONTEXT_BYTES = 120_000  # sequenceContext, stored in the run item
MAX_SAMPLE_LEADS_BYTES = 100_000  # a chat turn's sampleLeads together, stored in the run item
DRAFT_HISTORY_BYTES = 100_000  # earlier drafts kept on the session item (oldest dropped first)
SKELETON_HISTORY_BYTES = 60_000  # earlier skeletons kept on the session item (oldest dropped first)
HISTORY_LIMIT = 20  # and at most this many entries in each history
LIST_PAGE_DEFAULT = 50
LIST_PAGE_MAX = 100
LIST_PAGE_BYTES = 4_000_000  # a list page stops early past this much answer (answer_size), under Lambda's 6 MB
# A session answer (and a page of its messages or examples) carries at most this much of its two lists,
# counted as Lambda counts its answer: JSON escapes, then the body escaped again as a string. The rest of
# the session (histories, drafts, skeleton) stays within the ~1.7 MB left under Lambda's 6 MB response.
SESSION_LISTS_BYTES = 4_500_000
PAGE_DEFAULT = 100  # messages or examples per page of GET .../{id}/messages or .../{id}/examples
CHAT_WINDOW_CHARS = 24_000  # chat history a prompt carries: the most recent whole turns within this


def stored_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def answer_size(value: Any) -> int:
    """Bytes ``value`` adds to a Lambda answer: its JSON (ASCII escapes, as the API writes it), whose quotes and
    backslashes are escaped once more where the body sits as a string in Lambda's response."""
    text = json.dumps(value, separators=(",", ":"))
    return len(text) + text.count('"') + text.count("\\") + 1


def newest_within(entries: list, budget: int, count: int = HISTORY_LIMIT) -> list:
    """The newest entries (kept in order) whose stored size together stays within ``budget``."""
    kept: list = []
    used = 0
    for entry in reversed(entries[-count:]):
        used += stored_size(entry)
        if used > budget:
            break
        kept.append(entry)
    return kept[::-1]
