"""other_lead: the email names another lead of the same run (its full name, or its company where that is
not this lead's company). A string that this lead's own data holds ("ex-Bluefin" in its headline) is about
this lead, and is not flagged."""

from __future__ import annotations

import re
from functools import lru_cache

from outreach.review.inputs import OtherLead, full_name_of, strings_in
from outreach.review.text import find_in_email, find_written, is_caseless_letter, token_tuple, tokens, words_in

# Legal suffixes that emails drop: "Acme Robotics, Inc." is named as "Acme Robotics".
_LEGAL_SUFFIX = re.compile(r"[\s,]+(?:inc|llc|ltd|limited|gmbh|ag|sa|sas|bv|plc|corp|corporation|co)\.?$", re.I)


@lru_cache(maxsize=16384)  # a run's names, read again for every other lead's email
def _names(text: str) -> tuple[str, ...]:
    core = _LEGAL_SUFFIX.sub("", text.strip())
    return tuple(n for n in dict.fromkeys((text.strip(), core)) if len(n) >= 2)


def _is_full_name(name: str) -> bool:
    """A first name alone ("Cy") is not a full name: it would flag every Cy. Names written without spaces in
    a script without capitals ("田中愛子") are whole."""
    return len(tokens(name)) >= 2 or any(is_caseless_letter(c) for c in name)


def other_lead_strings(subject: str, body: str, lead: dict, others: tuple[OtherLead, ...]) -> list[str]:
    own_text = " ".join(strings_in(lead))
    own_name = token_tuple(full_name_of(lead) or "")
    own_company = token_tuple(lead.get("company") or "")
    # A name is written in the email only if its first word is: most of the run's names are not, and are
    # skipped before the other checks (same results; a run of 100 leads compares 99 names with each email).
    in_email = words_in(subject) | words_in(body)

    def may_be_written(name: str) -> bool:
        wanted = token_tuple(name)
        return bool(wanted) and wanted[0] in in_email

    found: list[str] = []
    for other in others:
        candidates = []
        if (other.full_name and may_be_written(other.full_name) and token_tuple(other.full_name) != own_name
                and _is_full_name(other.full_name)):
            candidates.append(other.full_name)
        if other.company and token_tuple(other.company) != own_company:
            candidates += [name for name in _names(other.company) if may_be_written(name)]
        for name in candidates:
            if find_written(own_text, name):
                continue  # this lead's own data names it
            written = find_in_email(subject, body, name)
            if written:
                found.append(written)
    return list(dict.fromkeys(found))
