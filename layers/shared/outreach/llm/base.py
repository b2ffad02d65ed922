"""What every LLM provider offers: an email for one lead, and a framework chat turn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from outreach.models.llm import EmailDraft, FrameworkReply, Usage
from outreach.prompts import Prompt

T = TypeVar("T")


@dataclass(frozen=True)
class LLMResult(Generic[T]):
    value: T
    usage: Usage
    model: str


class Writer(Protocol):
    def write_email(self, prompt: Prompt) -> LLMResult[EmailDraft]: ...

    def framework_turn(self, prompt: Prompt) -> LLMResult[FrameworkReply]: ...


def check_email(draft: EmailDraft) -> EmailDraft:
    """Reject output no user could send: an empty subject or body. Placeholders left in are flagged by the
    review (outreach.review), which asks the model once more."""
    subject, body = draft.subject.strip(), draft.body.strip()
    if not subject or not body:
        raise ValueError("the model returned an empty subject or body")
    return EmailDraft(subject=subject, body=body)
