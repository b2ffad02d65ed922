"""Words that name a time without stating a fact: weekday and month names, quarters and halves of a year."""

from __future__ import annotations

import re

MONTHS = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november",
    "december",
)
MONTH_ABBREVIATIONS = ("jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAY_ABBREVIATIONS = ("mon", "tue", "tues", "wed", "thu", "thur", "thurs", "fri", "sat", "sun")
# "Q3", "H2": a period every company has, like a month name; "Q3 2025" still has its year checked.
PERIOD = re.compile(r"^(?:q[1-4]|h[12])$", re.IGNORECASE)

CALENDAR_WORDS = frozenset(MONTHS + MONTH_ABBREVIATIONS + WEEKDAYS + WEEKDAY_ABBREVIATIONS)
MONTH_PATTERN = "|".join(sorted(MONTHS + MONTH_ABBREVIATIONS, key=len, reverse=True))


def is_calendar_word(word: str) -> bool:
    bare = word.rstrip(".").casefold()
    return bare in CALENDAR_WORDS or bool(PERIOD.match(bare))
