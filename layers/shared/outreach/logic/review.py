"""Reviewing a lead's email in its worker, and asking the model once more when a hard check fires.

The inputs are gathered here: the run's context (skeleton, draft, prior emails), the lead, the run's other
leads (names and companies only, from the run's roster, never sent to the model),
and the session's chat, read only when a string looks ungrounded without it.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from outreach import SERVICE_NAME
from outreach.dal.base import RunSessionStore
from outreach.errors import LLMPermanentError, LLMTransientError
from outreach.llm.base import LLMResult, Writer
from outreach.models.items import LeadItem, RosterEntry, RunItem
from outreach.models.llm import EmailDraft, Usage
from outreach.prompts import Prompt, repair_prompt
from outreach.review import (
    NEEDS_REVIEW,
    REVIEW_ERROR,
    UNGROUNDED_FACT,
    OtherLead,
    ReviewInputs,
    hard_flags,
    hard_weight,
    review_email,
)
from outreach.review.inputs import full_name_of

logger = Logger(service=SERVICE_NAME, child=True)


def review_and_repair(
    store: RunSessionStore,
    writer: Writer,
    run: RunItem,
    lead_item: LeadItem,
    prompt: Prompt,
    first: LLMResult[EmailDraft],
) -> tuple[LLMResult[EmailDraft], dict[str, Any]]:
    """Review ``first``; if a hard check fires, ask once more naming the offending strings, and keep the
    second answer if it has fewer hard flags. Returns the answer kept, with the usage of every call made, and
    its review. Never raises for a review problem: the email still lands."""
    try:
        inputs, problems = _inputs(store, run, lead_item)
        chat = _Chat(store, run)
        review = _review(first.value, inputs, chat, attempts=1, problems=problems)
        if not hard_flags(review):
            return first, review
        fix = {f["check"]: f["evidence"] for f in hard_flags(review)}
        try:
            second = writer.write_email(repair_prompt(prompt, first.value.subject, first.value.body, fix))
        except (LLMPermanentError, LLMTransientError) as error:
            logger.warning("repair call failed; keeping the first answer", extra={"error": type(error).__name__})
            return first, {**review, "attempts": 2}
        usage = first.usage + second.usage
        second_review = _review(second.value, inputs, chat, attempts=2, problems=problems)
        if hard_weight(second_review) < hard_weight(review):
            return _with_usage(second, usage), second_review
        return _with_usage(first, usage), {**review, "attempts": 2}
    except Exception as error:  # noqa: BLE001 - the review must never cost the email
        logger.exception("review failed")
        flag = {"check": REVIEW_ERROR, "detail": f"The review could not run ({type(error).__name__}): read this "
                "email yourself.", "evidence": ["review"]}
        return first, {"verdict": NEEDS_REVIEW, "flags": [flag], "attempts": 1}


def _with_usage(result: LLMResult[EmailDraft], usage: Usage) -> LLMResult[EmailDraft]:
    return LLMResult(value=result.value, usage=usage, model=result.model)


def _inputs(store: RunSessionStore, run: RunItem, lead_item: LeadItem) -> tuple[ReviewInputs, list]:
    ctx = run.context
    problems: list[dict[str, Any]] = []
    try:
        others = _other_leads(store, run, lead_item)
    except Exception as error:  # noqa: BLE001 - without the roster, say so instead of passing the check
        logger.warning("could not read the run's other leads", extra={"error": type(error).__name__})
        others = ()
        problems.append({"check": REVIEW_ERROR, "detail": "The run's other leads could not be read: check "
                         "yourself that this email names no other lead.", "evidence": ["other_lead"]})
    inputs = ReviewInputs(
        lead=lead_item.lead,
        skeleton=ctx.skeleton,
        draft_subject=ctx.draft_subject,
        draft_body=ctx.draft_body,
        prior_nodes=tuple((ctx.sequence_context or {}).get("prior_nodes") or ()),
        other_leads=others,
    )
    return inputs, problems


ROSTER_CHARS = 128  # longer names and companies are not checked: it keeps the run item small


def roster(leads: list[dict[str, Any]]) -> list[dict[str, str | None]]:
    """Each lead's full name and company, by index, for other_lead: stored on the run at dispatch, beside
    (never inside) the context prompts are built from. Every worker already reads the run, so no worker
    queries the other leads' items (on the local engine, 100 such queries of 100 items cost a minute)."""

    def short(value: str | None) -> str | None:
        return value if value and len(value) <= ROSTER_CHARS else None

    return [{"full_name": short(full_name_of(lead)), "company": short(lead.get("company"))} for lead in leads]


def _other_leads(store: RunSessionStore, run: RunItem, lead_item: LeadItem) -> tuple[OtherLead, ...]:
    if run.total <= 1:
        return ()
    names = run.roster
    if names is None:  # a run dispatched before runs carried a roster: one query of its lead items
        found = {lead.index: lead.lead for lead in store.get_run_leads(run.id)}
        names = [RosterEntry.model_validate(roster([found[i]])[0]) if i in found else RosterEntry()
                 for i in range(max(found, default=-1) + 1)]
    return tuple(
        OtherLead(full_name=entry.full_name, company=entry.company)
        for i, entry in enumerate(names)
        if i != lead_item.index
    )


class _Chat:
    """The session's chat messages, read at most once and only when needed."""

    def __init__(self, store: RunSessionStore, run: RunItem):
        self._store, self._run = store, run
        self._messages: tuple[str, ...] | None = None

    def messages(self) -> tuple[str, ...]:
        if self._messages is None:
            try:
                found = self._store.get_session_messages(self._run.workspace_id, self._run.session_id)
            except Exception as error:  # noqa: BLE001 - without the chat, flags stay as they are
                logger.warning("could not read the session's chat", extra={"error": type(error).__name__})
                found = []
            self._messages = tuple(message.content for message in found)
        return self._messages


def _review(draft: EmailDraft, inputs: ReviewInputs, chat: _Chat, *, attempts: int, problems: list) -> dict:
    review = review_email(draft.subject, draft.body, inputs, attempts=attempts)
    if any(f["check"] == UNGROUNDED_FACT for f in review["flags"]) and chat.messages():
        with_chat = ReviewInputs(**{**inputs.__dict__, "chat_messages": chat.messages()})
        review = review_email(draft.subject, draft.body, with_chat, attempts=attempts)
    if problems:
        review = {**review, "verdict": NEEDS_REVIEW, "flags": review["flags"] + problems}
    return review


def review_summary(review: dict[str, Any]) -> dict[str, Any]:
    """What the worker's metrics need: the verdict, the checks that fired, the model calls made."""
    return {
        "verdict": review["verdict"],
        "checks": [f["check"] for f in review["flags"]],
        "attempts": review["attempts"],
    }
