"""Figures in text: dates, times, amounts of money, percentages and plain numbers, with their values.

Values let "$45M", "$45 million" and "45,000,000 dollars" count as the same figure, and "1,200" as "1200".
Idioms that hold digits but state nothing ("24/7", "1:1", "B2B") are not figures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from outreach.review.calendar_words import MONTH_PATTERN

_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_SCALE = r"(?:thousand|million|billion|trillion|mm|bn|mn|[kmb])"
_SCALES = {"thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "mm": 1e6, "mn": 1e6, "billion": 1e9, "b": 1e9,
           "bn": 1e9, "trillion": 1e12}
_CURRENCY_WORDS = r"(?:dollars?|euros?|pounds?|usd|eur|gbp|cad|aud|inr|jpy)"

IDIOMS = re.compile(r"(?<![\w/])(?:24/7|24x7|1:1|1-on-1|one-on-one|9-to-5|[A-Za-z]+\d+[A-Za-z]*\w*)(?![\w/])",
                    re.IGNORECASE)

_PATTERNS: list[tuple[str, re.Pattern]] = [
    ("date", re.compile(rf"\b(?:{MONTH_PATTERN})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b", re.IGNORECASE)),
    ("date", re.compile(rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{MONTH_PATTERN})\b\.?(?:,?\s+\d{{4}})?",
                        re.IGNORECASE)),
    ("date", re.compile(r"\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b"
                        r"|(?<![\w/])\d{1,2}/\d{1,2}(?![\w/])")),
    ("time", re.compile(r"\b\d{1,2}(?::\d{2})?\s?(?:a\.?m\.?|p\.?m\.?)(?!\w)|\b\d{1,2}:\d{2}\b", re.IGNORECASE)),
    ("money", re.compile(rf"(?:[$€£¥₹]|\b(?:usd|eur|gbp)\s?)(?:{_NUM})(?:\s?{_SCALE}\b)?", re.IGNORECASE)),
    ("money", re.compile(rf"(?<![\w.,])(?:{_NUM})(?:\s?{_SCALE})?\s?{_CURRENCY_WORDS}\b", re.IGNORECASE)),
    ("percent", re.compile(rf"(?<![\w.,])(?:{_NUM})\s?(?:%|percent\b|per cent\b|pct\b)", re.IGNORECASE)),
    ("number", re.compile(rf"(?<![\w.,])(?:{_NUM})(?:\s?{_SCALE}\b|x\b|\+|(?:st|nd|rd|th)\b)?(?![\w])", re.IGNORECASE)),
]


@dataclass(frozen=True)
class Figure:
    text: str
    kind: str  # date, time, money, percent, number
    value: float | None  # money, percent, number; None for dates and times
    start: int
    end: int


def _value(text: str) -> float | None:
    match = re.search(_NUM, text)
    if not match:
        return None
    value = float(match.group(0).replace(",", ""))
    rest = text[match.end():].strip().lower()
    scale = re.match(_SCALE, rest)
    if scale and (len(scale.group(0)) > 1 or not rest[1:2].isalpha()):
        value *= _SCALES.get(scale.group(0), 1)
    return value


def mask(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def find_figures(text: str) -> list[Figure]:
    """Every figure in ``text``, each once (a date's day is not also a plain number), in order."""
    found: list[Figure] = []
    for match in IDIOMS.finditer(text):
        text = mask(text, match.start(), match.end())
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            written = match.group(0).strip()
            value = None if kind in ("date", "time") else _value(written)
            found.append(Figure(written, kind, value, match.start(), match.end()))
            text = mask(text, match.start(), match.end())
    return sorted(found, key=lambda f: f.start)
