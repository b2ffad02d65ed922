"""Checks on each sample email, computed by the service from the email and the inputs it was written from.

Plain functions, one file a check: placeholders.py, grounding.py, other_lead.py, word_limit.py, spam.py;
review.py runs them all into ``{verdict, flags, attempts}``. No I/O here: logic/review.py gathers the inputs
and asks the model once more when a hard check fires.
"""

from outreach.review.inputs import OtherLead, ReviewInputs
from outreach.review.review import (
    CHECKS,
    HARD_CHECKS,
    NEEDS_REVIEW,
    OK,
    REVIEW_ERROR,
    UNGROUNDED_FACT,
    hard_flags,
    hard_weight,
    review_email,
)

__all__ = [
    "CHECKS",
    "HARD_CHECKS",
    "NEEDS_REVIEW",
    "OK",
    "REVIEW_ERROR",
    "UNGROUNDED_FACT",
    "OtherLead",
    "ReviewInputs",
    "hard_flags",
    "hard_weight",
    "review_email",
]
