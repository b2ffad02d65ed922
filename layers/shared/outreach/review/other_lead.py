"""other_lead: the email names another lead of the same run (its full name, or its company where that is
not this lead's company). A string that this lead's own data holds ("ex-Bluefin" in its headline) is about
this lead, and is not flagged."""

from __future__ import annotations

import re

from outreach.review.inputs import OtherLead, full_name_of, strings_in
from outreach.review.text import find_in_email, find_written, is_caseless_letter, tokens

# Legal suffixes that emails drop: "Acme Robotics, Inc." is named as "Acme Robotics".
_LEGAL_SUFFIX = re.compile(r"[\s,]+(?:inc|llc|ltd|limited|gmbh|ag|sa|sas|bv|plc|corp|corporation|co)\.?$", re.I)


def _names(text: str) -> list[str]:
    core = _LEGAL_SUFFIX.sub("", text.strip())
    return [n for n in dict.fromkeys((text.strip(), core)) if len(n) >= 2]


def _is_full_name(name: str) -> bool:
    """A first name alone ("Cy") is not a full name: it would flag every Cy. Names written without spaces in
    a script without capitals ("田中愛子") are whole."""
    return len(tokens(name)) >= 2 or any(is_caseless_letter(c) for c in name)


def other_lead_strings(subject: str, body: str, lead: dict, others: tuple[OtherLead, ...]) -> list[str]:
    own_text = " ".join(strings_in(lead))
    own_name = tokens(full_name_of(lead) or "")
    own_company = tokens(lead.get("company") or "")
    found: list[str] = []
    for other in others:
        candidates = []
        if other.full_name and tokens(other.full_name) != own_name and _is_full_name(other.full_name):
            candidates.append(other.full_name)
        if other.company and tokens(other.company) != own_company:
            candidates += _names(other.company)
        for name in candidates:
            if find_written(own_text, name):
                continue  # this lead's own data names it
            written = find_in_email(subject, body, name)
            if written:
                found.append(written)
    return list(dict.fromkeys(found))
