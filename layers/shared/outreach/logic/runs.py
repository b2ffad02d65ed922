"""Dispatching runs (claim, record, start the state machine) and showing them."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger

from outreach import SERVICE_NAME
from outreach.clock import new_run_id, now_epoch, now_iso
from outreach.config import Settings
from outreach.dal.base import FINAL_STATUSES, RunSessionStore, RunStore, example_lead_key, parse_manifest_entry
from outreach.errors import DispatchFailed, SessionNotFound, TooLarge, TooManyExamples, TooManyMessages
from outreach.limits import (
    MAX_EXAMPLES,
    MAX_LEAD_BYTES,
    MAX_MESSAGES,
    MAX_SAMPLE_LEADS_BYTES,
    MAX_SEQUENCE_CONTEXT_BYTES,
    stored_size,
)
from outreach.logic.auth import issue_run_token
from outreach.logic.leads import lead_id
from outreach.logic.review import roster
from outreach.logic.webhook_urls import resolve_webhook_url
from outreach.models.items import LeadItem, RunItem, SessionItem, TokenUsage
from outreach.models.requests import ChatTurnRequest, GenerateExamplesRequest, WebhookTarget

logger = Logger(service=SERVICE_NAME, child=True)
GENERATE = "generate_examples"
CHAT_TURN = "chat_turn"
# A lead still pending when its run ends: AWS stopped its Express child (past 5 minutes, where no Catch runs),
# or its failure could not be recorded.
UNFINISHED_LEAD = (
    "The lead did not finish: its workflow was stopped at its time limit (5 minutes a lead) or could not record "
    "a result."
)


def _ttl(settings: Settings) -> int:
    return now_epoch() + settings.run_retention_days * 86400


def _start(
    store: RunSessionStore,
    sfn,
    settings: Settings,
    secret: bytes,
    *,
    workspace_id: str,
    session_id: str,
    kind: str,
    state_machine_arn: str,
    build_run,
    idempotency_key: str | None = None,
    webhook: WebhookTarget | None = None,
) -> dict[str, str]:
    """Claim the session, record the run, start its execution. Any failure after the claim releases it."""
    if webhook is not None:  # before the claim: a refused URL is a 422 that leaves the session free
        resolve_webhook_url(webhook.url, allow_loopback=settings.webhook_allow_loopback)
    run_id = new_run_id()
    now = now_epoch()
    session = store.claim_session(
        workspace_id,
        session_id,
        task_status="generating_examples" if kind == GENERATE else "chat_processing",
        run_id=run_id,
        now=now,
        expires_at=now + settings.run_timeout_s,
        require_skeleton=kind == GENERATE,
    )
    try:
        run, leads, execution_input = build_run(run_id, session)
        run.update(
            id=run_id,
            kind=kind,
            status="QUEUED",
            session_id=session_id,
            workspace_id=workspace_id,
            created_at=now_iso(),
            finished_at=None,
            expires_at=_ttl(settings),
        )
        if idempotency_key:  # which keyed dispatch started it: a concurrent retry's 409 can name it
            run["idempotency_key"] = idempotency_key
        if webhook is not None:
            run["webhook"] = {"url": webhook.url}
        store.create_run(run, leads)
        sfn.start_execution(stateMachineArn=state_machine_arn, name=run_id, input=json.dumps(execution_input))
    except Exception:
        logger.exception("dispatch failed; releasing the claim", extra={"run_id": run_id, "session_id": session_id})
        _abandon(store, run_id, session_id)
        raise DispatchFailed("The run could not be started. The session is free again: retry.") from None
    logger.info("run dispatched", extra={"run_id": run_id, "session_id": session_id, "kind": kind})
    return {"runId": run_id, "publicAccessToken": issue_run_token(secret, run_id, settings.run_token_ttl_s)}


def _abandon(store: RunSessionStore, run_id: str, session_id: str) -> None:
    try:
        store.release_claim(session_id, run_id)
    finally:
        try:
            store.fail_run(
                run_id, {"status": "FAILED", "finished_at": now_iso(), "error": "The run could not be started."}
            )
        except Exception:  # the run record may not exist yet; the claim release above is what matters
            logger.warning("could not mark the abandoned run failed", extra={"run_id": run_id})


def _check_sizes(request: GenerateExamplesRequest | ChatTurnRequest) -> None:
    """What a request stores must fit its items: 422 naming the field, before anything is claimed or written."""
    leads = request.leads if isinstance(request, GenerateExamplesRequest) else request.sample_leads
    where = "leads" if isinstance(request, GenerateExamplesRequest) else "sampleLeads"
    for index, lead in enumerate(leads):
        if stored_size(lead.as_sent()) > MAX_LEAD_BYTES:
            raise TooLarge(["body", where, str(index)], f"{where}[{index}] is over {MAX_LEAD_BYTES:,} bytes as stored.")
    if where == "sampleLeads" and stored_size([lead.as_sent() for lead in leads]) > MAX_SAMPLE_LEADS_BYTES:
        raise TooLarge(["body", where], f"sampleLeads together are over {MAX_SAMPLE_LEADS_BYTES:,} bytes: send fewer.")
    if request.sequence_context is not None:
        size = stored_size(request.sequence_context.model_dump(mode="json"))
        if size > MAX_SEQUENCE_CONTEXT_BYTES:
            raise TooLarge(
                ["body", "sequenceContext", "prior_nodes"],
                f"sequenceContext is {size:,} bytes as stored, over {MAX_SEQUENCE_CONTEXT_BYTES:,}: "
                "send fewer or shorter prior_nodes.",
            )


def _check_generate(store: RunSessionStore, workspace_id: str, session_id: str, request: GenerateExamplesRequest):
    _check_sizes(request)
    session = store.get_session(workspace_id, session_id)
    if session is None:
        raise SessionNotFound()
    leads = {example_lead_key(lead_id(lead.as_sent())) for lead in request.leads}
    if not request.is_first_batch:
        leads |= {parse_manifest_entry(entry)[0] for entry in session.example_manifest}
    if len(leads) > MAX_EXAMPLES:
        raise TooManyExamples(
            f"A session holds at most {MAX_EXAMPLES} examples; these leads would make {len(leads)}. "
            "Start a new batch with isFirstBatch: true, or use another session."
        )


def _check_chat(store: RunSessionStore, workspace_id: str, session_id: str, request: ChatTurnRequest):
    _check_sizes(request)
    session = store.get_session(workspace_id, session_id)
    if session is None:
        raise SessionNotFound()
    if session.message_count + 2 > MAX_MESSAGES:
        raise TooManyMessages(
            f"A session holds at most {MAX_MESSAGES} chat messages and this one is full: start a new session."
        )


def _generate_run(request: GenerateExamplesRequest, settings: Settings, run_id: str, session: SessionItem):
    """A generate run's item, its lead items, and the execution input (indexes only, never lead data)."""
    ttl = _ttl(settings)
    leads = []
    for index, lead in enumerate(request.leads):
        sent = lead.as_sent()
        leads.append({"index": index, "lead": sent, "lead_id": lead_id(sent), "status": "pending", "expires_at": ttl})
    run = {
        "total": len(leads),
        "roster": roster([lead["lead"] for lead in leads]),
        "context": {
            "skeleton": session.skeleton,
            "draft_subject": session.draft_subject,
            "draft_body": session.draft_body,
            "framework_version": session.framework_version,
            "sequence_context": request.sequence_context.model_dump(mode="json") if request.sequence_context else None,
            "is_first_batch": request.is_first_batch,
        },
    }
    return run, leads, {"run_id": run_id, "lead_indexes": list(range(len(leads)))}


def _chat_run(request: ChatTurnRequest, settings: Settings, run_id: str, session: SessionItem):
    """A chat turn's run item (no lead items) and the execution input."""
    run = {
        "total": 1,
        "context": {
            "message": request.message,
            "message_created_at": now_iso(),
            "available_var_names": request.available_var_names,
            "sample_leads": [lead.as_sent() for lead in request.sample_leads],
            "sequence_context": request.sequence_context.model_dump(mode="json") if request.sequence_context else None,
        },
    }
    return run, [], {"run_id": run_id}


def dispatch(
    store: RunSessionStore,
    sfn,
    settings: Settings,
    secret: bytes,
    workspace_id: str,
    session_id: str,
    request: GenerateExamplesRequest | ChatTurnRequest,
    *,
    idempotency_key: str | None = None,
) -> dict[str, str]:
    """Check the request against the session, claim it and start the run it asks for: a generate run or a chat
    turn. Answers ``{runId, publicAccessToken}``."""
    if isinstance(request, GenerateExamplesRequest):
        _check_generate(store, workspace_id, session_id, request)
        kind, state_machine_arn, build = GENERATE, settings.generate_state_machine_arn, _generate_run
    else:
        _check_chat(store, workspace_id, session_id, request)
        kind, state_machine_arn, build = CHAT_TURN, settings.chat_state_machine_arn, _chat_run
    return _start(
        store,
        sfn,
        settings,
        secret,
        workspace_id=workspace_id,
        session_id=session_id,
        kind=kind,
        state_machine_arn=state_machine_arn,
        build_run=lambda run_id, session: build(request, settings, run_id, session),
        idempotency_key=idempotency_key,
        webhook=request.webhook,
    )


def example_from(lead_item: LeadItem, run: RunItem) -> dict[str, Any]:
    """A lead item as the example clients see (the Example answer), and as the session stores it (ExampleItem)."""
    finished = lead_item.status in ("completed", "failed")
    return {
        "lead_id": lead_item.lead_id,
        "lead": lead_item.lead,
        "subject": lead_item.subject,
        "body": lead_item.body,
        "status": lead_item.status if finished else "failed",
        "error": lead_item.error if finished else UNFINISHED_LEAD,
        "run_id": run.id,
        "framework_version": run.context.framework_version,
        "created_at": lead_item.finished_at or run.created_at,
        "review": (
            lead_item.review.model_dump(exclude_unset=True)
            if lead_item.status == "completed" and lead_item.review is not None
            else None
        ),
    }


def tally(leads: list[LeadItem]) -> tuple[dict[str, int], dict[str, int]]:
    progress = {"total": len(leads), "completed": 0, "failed": 0}
    usage = TokenUsage()
    for lead in leads:
        if lead.status in ("completed", "failed"):
            progress[lead.status] += 1
        if lead.usage is not None:
            usage += lead.usage
    return progress, usage.model_dump()


def review_tally(leads: list[LeadItem]) -> dict[str, int]:
    """How many finished emails can be trusted as written, and how many a rep should read first."""
    verdicts = [lead.review.verdict for lead in leads if lead.status == "completed" and lead.review is not None]
    return {"ok": verdicts.count("ok"), "needs_review": verdicts.count("needs_review")}


FINISHED_LEAD = ("completed", "failed")
# A run's status moves one way: QUEUED -> EXECUTING -> one final status. Its rank is part of its version.
_STATUS_RANK = {"QUEUED": 0, "EXECUTING": 1, **{status: 2 for status in FINAL_STATUSES}}


def shown_status(run: RunItem, finished_leads: int) -> str:
    """The run's status as clients see it: leads landing mean it runs, whichever worker marks the run first."""
    if run.status == "QUEUED" and finished_leads:
        return "EXECUTING"
    return run.status


def run_version(run: RunItem, finished_leads: int) -> int:
    """Grows with every change a client can see (a lead finished, a status change) and never goes back: finished
    leads only grow and the status only moves forward. Counted from the lead items and the run's status, so the
    leads never write a shared counter. 1 for a new run, so ``after=0`` always answers at once."""
    return 1 + finished_leads + _STATUS_RANK.get(shown_status(run, finished_leads), 0)


def run_view(store: RunStore, run: RunItem) -> dict[str, Any]:
    """The run as its token holder sees it (the Run answer); a generate run lists the examples finished so far."""
    view = {
        "id": run.id,
        "kind": run.kind,
        "status": run.status,
        "session_id": run.session_id,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "error": run.error,
    }
    finished = 0
    if run.kind == GENERATE:
        leads = store.get_run_leads(run.id)
        progress, usage = tally(leads)
        finished = progress["completed"] + progress["failed"]
        if run.status in FINAL_STATUSES and run.progress:
            progress = run.progress.model_dump(exclude_unset=True)  # the aggregate's: unfinished leads failed
        view["status"] = shown_status(run, finished)
        view["examples"] = [example_from(lead, run) for lead in leads if lead.status in FINISHED_LEAD]
        view["review"] = review_tally(leads)
    else:
        progress = {
            "total": 1,
            "completed": int(run.status == "COMPLETED"),
            "failed": int(run.status == "FAILED"),
        }
        usage = run.usage.model_dump(exclude_unset=True) if run.usage is not None else TokenUsage().model_dump()
    examples = view.pop("examples", None)
    review = view.pop("review", {"ok": 0, "needs_review": 0})
    view["version"] = run_version(run, finished)
    view["progress"] = progress
    view["usage"] = usage
    view["review"] = review
    if examples is not None:
        view["examples"] = examples
    return view
