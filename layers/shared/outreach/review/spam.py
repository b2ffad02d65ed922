"""spam_phrase: a phrase from spam_phrases.txt (a curated public list, source named in the file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from outreach.review.text import find_in_email

PHRASES_FILE = Path(__file__).with_name("spam_phrases.txt")


@lru_cache(maxsize=1)
def spam_phrases() -> tuple[str, ...]:
    lines = PHRASES_FILE.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def spam_strings(subject: str, body: str) -> list[str]:
    found = []
    for phrase in spam_phrases():
        written = find_in_email(subject, body, phrase)
        if written:
            found.append(written)
    return list(dict.fromkeys(found))
