"""What an email is checked against: everything it was written from, and the run's other leads."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class OtherLead:
    """Another lead of the same run, only as far as the other_lead check needs it. Never sent to a model."""

    full_name: str | None
    company: str | None


@dataclass(frozen=True)
class ReviewInputs:
    lead: dict[str, Any]
    skeleton: dict[str, Any] | None = None
    draft_subject: str | None = None
    draft_body: str | None = None
    chat_messages: tuple[str, ...] = ()
    prior_nodes: tuple[dict[str, Any], ...] = ()
    other_leads: tuple[OtherLead, ...] = field(default_factory=tuple)

    def source_texts(self) -> list[str]:
        """Every string the email may draw facts from (the other leads are not among them)."""
        texts = list(strings_in(self.lead))
        texts += strings_in(self.skeleton)
        texts += [self.draft_subject or "", self.draft_body or ""]
        texts += list(self.chat_messages)
        for node in self.prior_nodes:
            texts += strings_in({"subject": node.get("subject"), "body": node.get("body")})
        return [t for t in texts if t]


def strings_in(value: Any) -> Iterator[str]:
    """The scalar values of a JSON-like value, as text (numbers included: "employees": 320 grounds "320")."""
    if isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings_in(item)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, (int, float, str)):
        yield str(value)
    else:  # Decimal from DynamoDB, and the like
        yield str(value)


def full_name_of(lead: dict[str, Any]) -> str | None:
    name = (lead.get("full_name") or "").strip()
    if not name:
        name = " ".join(p.strip() for p in (lead.get("first_name") or "", lead.get("last_name") or "") if p.strip())
    return name or None
