"""A lead's stable identity across batches."""

from __future__ import annotations

import hashlib
import unicodedata


def _norm(value: str | None) -> str:
    if not value:
        return ""
    folded = unicodedata.normalize("NFKC", value).casefold()
    return " ".join(folded.split())


def lead_id(lead: dict) -> str:
    """Its linkedin_url when it has one, else a hash of its names and company.

    The hash ignores case, accents' composition and spacing, so the same person
    typed twice maps to one id; it never embeds the names themselves.
    """
    url = (lead.get("linkedin_url") or "").strip()
    if url:
        return url
    full = _norm(lead.get("full_name")) or " ".join(
        part for part in (_norm(lead.get("first_name")), _norm(lead.get("last_name"))) if part
    )
    digest = hashlib.sha256(f"{full}\x1f{_norm(lead.get('company'))}".encode()).hexdigest()
    return f"lead_{digest[:24]}"


def display_name(lead: dict) -> str:
    full = (lead.get("full_name") or "").strip()
    if full:
        return full
    return " ".join(p for p in ((lead.get("first_name") or "").strip(), (lead.get("last_name") or "").strip()) if p)
