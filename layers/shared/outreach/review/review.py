"""The review of one email: every check run on it, a verdict, and what a rep should look at.

A check that raises becomes a ``review_error`` flag: the review never costs the email.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from outreach.review.grounding import ungrounded_strings
from outreach.review.inputs import ReviewInputs
from outreach.review.other_lead import other_lead_strings
from outreach.review.placeholders import check_placeholders
from outreach.review.sources import Sources
from outreach.review.spam import spam_strings
from outreach.review.word_limit import words_over_limit

UNRESOLVED_PLACEHOLDER = "unresolved_placeholder"
UNGROUNDED_FACT = "ungrounded_fact"
OTHER_LEAD = "other_lead"
OVER_WORD_LIMIT = "over_word_limit"
SPAM_PHRASE = "spam_phrase"
REVIEW_ERROR = "review_error"
CHECKS = (UNRESOLVED_PLACEHOLDER, UNGROUNDED_FACT, OTHER_LEAD, OVER_WORD_LIMIT, SPAM_PHRASE)
# Worth one more model call: the email states or shows something it must not.
HARD_CHECKS = (UNRESOLVED_PLACEHOLDER, UNGROUNDED_FACT, OTHER_LEAD)
OK, NEEDS_REVIEW = "ok", "needs_review"

Flag = dict[str, Any]  # {check, detail, evidence: [str, ...]}


def _placeholder_flag(subject: str, body: str, inputs: ReviewInputs) -> Flag | None:
    found = check_placeholders(subject, body)
    if not found:
        return None
    return _flag(UNRESOLVED_PLACEHOLDER, "Fill in or remove the placeholders and notes left in the email.", found)


def _grounding_flag(subject: str, body: str, inputs: ReviewInputs) -> Flag | None:
    found = ungrounded_strings(subject, body, Sources.of(inputs.source_texts()))
    if not found:
        return None
    return _flag(
        UNGROUNDED_FACT,
        "These are in none of the lead's data, the framework, the chat or the earlier emails: "
        "check each one is true, or remove it.",
        found,
    )


def _other_lead_flag(subject: str, body: str, inputs: ReviewInputs) -> Flag | None:
    found = other_lead_strings(subject, body, inputs.lead, inputs.other_leads)
    if not found:
        return None
    return _flag(OTHER_LEAD, "The email names another lead of this batch: remove it before sending.", found)


def _word_limit_flag(subject: str, body: str, inputs: ReviewInputs) -> Flag | None:
    over = words_over_limit(body, inputs.skeleton)
    if over is None:
        return None
    words, limit = over
    return _flag(OVER_WORD_LIMIT, f"The body has {words} words; the framework allows {limit}. Shorten it.",
                 [f"{words} words"])


def _spam_flag(subject: str, body: str, inputs: ReviewInputs) -> Flag | None:
    found = spam_strings(subject, body)
    if not found:
        return None
    return _flag(SPAM_PHRASE, "Spam filters and readers distrust these phrases: reword them.", found)


CHECK_FUNCTIONS: dict[str, Callable[[str, str, ReviewInputs], Flag | None]] = {
    UNRESOLVED_PLACEHOLDER: _placeholder_flag,
    UNGROUNDED_FACT: _grounding_flag,
    OTHER_LEAD: _other_lead_flag,
    OVER_WORD_LIMIT: _word_limit_flag,
    SPAM_PHRASE: _spam_flag,
}


def _flag(check: str, detail: str, evidence: list[str]) -> Flag:
    return {"check": check, "detail": detail, "evidence": list(evidence)}


def review_email(subject: str, body: str, inputs: ReviewInputs, *, attempts: int = 1) -> dict[str, Any]:
    """``{verdict, flags, attempts}`` for one email; ``attempts`` counts the model calls behind it."""
    flags: list[Flag] = []
    for name, check in CHECK_FUNCTIONS.items():
        try:
            flag = check(subject or "", body or "", inputs)
        except Exception as error:  # noqa: BLE001 - a broken check must not cost the email
            flag = _flag(REVIEW_ERROR, f"The {name} check could not run ({type(error).__name__}): read this "
                         "email yourself for what it checks.", [name])
        if flag is not None:
            flags.append(flag)
    return {"verdict": NEEDS_REVIEW if flags else OK, "flags": flags, "attempts": attempts}


def hard_flags(review: dict[str, Any]) -> list[Flag]:
    return [f for f in review["flags"] if f["check"] in HARD_CHECKS]


def hard_weight(review: dict[str, Any]) -> tuple[int, int]:
    """How bad the hard flags are: how many checks fired, then how many strings they found."""
    flags = hard_flags(review)
    return len(flags), sum(len(f["evidence"]) for f in flags)
