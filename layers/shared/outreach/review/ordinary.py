"""The ordinary capitalised words (ordinary_words.txt, shipped in this package)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from outreach.review.text import fold, strip_possessive

WORDS_FILE = Path(__file__).with_name("ordinary_words.txt")


@lru_cache(maxsize=1)
def ordinary_words() -> frozenset[str]:
    lines = WORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def is_ordinary(word: str) -> bool:
    return fold(strip_possessive(word)).rstrip(".") in ordinary_words()
