"""What the state machines' steps do: one lead, the aggregate, a chat turn, and the failure path.

Every step is idempotent: Step Functions may run a task twice, and a late
finisher of an expired run must not touch the session a newer run holds.
"""

from __future__ import annotations

import random
import time
from typing import Any

from aws_lambda_powertools import Logger

from outreach import SERVICE_NAME, budgets
from outreach.clock import now_epoch, now_iso
from outreach.dal.base import (
    FINAL_STATUSES,
    LeadWorkerStore,
    LlmLeaseStore,
    RunSessionStore,
    RunStore,
    example_lead_key,
    manifest_entry,
    parse_manifest_entry,
    version_of,
)
from outreach.errors import (
    ClaimLost,
    ItemTooLarge,
    LLMPermanentError,
    ResultNotStored,
    RunAlreadyFinished,
    StoreThrottled,
    WorkspaceBusy,
)
from outreach.limits import CHAT_WINDOW_CHARS, MAX_EXAMPLES, MAX_MESSAGES
from outreach.llm.base import Writer
from outreach.logic.merge import merge_examples
from outreach.logic.review import review_and_repair, review_summary
from outreach.logic.run_events import announce_run_end
from outreach.logic.runs import example_from, tally
from outreach.logic.sessions import add_draft_history, add_skeleton_history
from outreach.models.items import RunItem
from outreach.prompts import email_prompt, framework_prompt

logger = Logger(service=SERVICE_NAME, child=True)

# What a person reads on a failed lead or run, by Step Functions error name.
FAILURE_MESSAGES = {
    "LLMTransientError": "The LLM kept failing (rate limits or server errors) after retries.",
    "WorkspaceBusy": "The workspace's LLM calls stayed at their limit for too long; retry the batch.",
    "StoreThrottled": "The database stayed throttled (too many requests) after retries; retry the batch.",
    "ResultNotStored": "The email was written but could not be stored (the database stayed throttled); retry the "
    "batch.",
    "States.Timeout": "The step took longer than Step Functions allows it and was stopped.",
    "States.TaskFailed": "The step failed.",
    "States.DataLimitExceeded": "The step's data passed Step Functions' 256 KB limit.",
    # A Lambda past its timeout: the LLM client's own time-outs and retries all fit inside it (outreach.budgets),
    # so this is rare and not retried (it could pay the LLM twice).
    "Sandbox.Timedout": "The worker ran past its time limit and was stopped.",
    "Function.ResponseSizeTooLarge": "The worker's answer passed Lambda's 6 MB limit.",
    "Lambda.Unknown": "The worker crashed (out of memory or time).",
}
CLAIM_LOST = "The session was deleted or taken over by a newer run before the results could be written."


def failure_message(error: str | None) -> str:
    if not error:
        return "The run failed."
    return FAILURE_MESSAGES.get(error, f"The step failed ({error}).")


def _cache_key(run: RunItem) -> str:
    # One key per session and framework version: every lead of a run shares the prompt prefix.
    return f"{run.session_id}:v{run.context.framework_version}"


RESULT_WRITE_ATTEMPTS = 6  # a lead's result is written this many times before giving up (~10 s of backoff)
LEASE_S = budgets.LEASE_S  # longer than a lead's worker can live, so a lease never outlives its call by much


def _record_result(store: RunStore, run_id: str, index: int, fields: dict[str, Any]) -> None:
    """Write a paid-for result, retrying throttling here: a retry of the whole step would pay the LLM again."""
    for attempt in range(RESULT_WRITE_ATTEMPTS):
        try:
            store.record_lead(run_id, index, fields)
            return
        except StoreThrottled:
            if attempt == RESULT_WRITE_ATTEMPTS - 1:
                # Not StoreThrottled: the state machine must not run (and pay for) this lead again.
                raise ResultNotStored(f"lead {index} of {run_id}: the result write stayed throttled") from None
            logger.warning("result write throttled; retrying", extra={"run_id": run_id, "index": index})
            time.sleep(min(4.0, 0.25 * 2**attempt) * random.uniform(0.5, 1.0))


def _release_slot(store: LlmLeaseStore, workspace_id: str, lease: str) -> None:
    """Give the workspace's LLM slot back; if the write stays throttled the lease expires by itself (LEASE_S),
    and the paid-for result must still be written."""
    try:
        store.release_llm_slot(workspace_id, lease)
    except StoreThrottled:
        logger.warning("LLM slot release throttled; the lease will expire", extra={"lease": lease})


def generate_lead(
    store: LeadWorkerStore, writer: Writer, run_id: str, index: int, *, llm_cap: int | None = None
) -> dict[str, Any]:
    """Write one lead's email. With ``llm_cap``, at most that many LLM calls of the workspace run at once;
    past it this raises WorkspaceBusy and the state machine tries the lead again a little later. DynamoDB
    throttling before the LLM call raises StoreThrottled, which the state machine retries too."""
    run, lead_item = store.get_run_and_lead(run_id, index)
    if run is None or lead_item is None or run.status in FINAL_STATUSES:
        return {"index": index, "status": "skipped"}
    if lead_item.status != "pending":
        return {"index": index, "status": lead_item.status}
    if index == 0:  # one worker marks the run started: a write per lead would contend for the run item
        store.mark_run_executing(run_id, now_iso())

    ctx = run.context
    prompt = email_prompt(
        skeleton=ctx.skeleton,
        draft_subject=ctx.draft_subject,
        draft_body=ctx.draft_body,
        sequence_context=ctx.sequence_context,
        lead=lead_item.lead,
        cache_key=_cache_key(run),
    )
    lease = f"{run_id}:{index}"
    if llm_cap and not store.acquire_llm_slot(
        run.workspace_id, lease, cap=llm_cap, now=now_epoch(), expires_at=now_epoch() + LEASE_S
    ):
        raise WorkspaceBusy(f"{llm_cap} LLM calls of this workspace are already in flight")
    started = time.monotonic()
    try:
        result = writer.write_email(prompt)  # LLMTransientError propagates: the state machine retries
        # May ask the model once more (inside the lease): ``result`` is the answer kept, its usage both calls'.
        result, review = review_and_repair(store, writer, run, lead_item, prompt, result)
    except LLMPermanentError as error:
        _record_result(store, run_id, index, {"status": "failed", "error": str(error), "finished_at": now_iso()})
        return {"index": index, "status": "failed"}
    finally:
        if llm_cap:
            _release_slot(store, run.workspace_id, lease)
    latency_ms = round((time.monotonic() - started) * 1000)
    _record_result(
        store,
        run_id,
        index,
        {
            "status": "completed",
            "subject": result.value.subject,
            "body": result.value.body,
            "error": None,
            "model": result.model,
            "usage": result.usage.model_dump(),
            "review": review,
            "prompt_chars": prompt.total_chars,
            "shared_prefix_chars": prompt.shared_prefix_chars,
            "latency_ms": latency_ms,
            "finished_at": now_iso(),
        },
    )
    return {
        "index": index,
        "status": "completed",
        "latency_ms": latency_ms,
        "usage": result.usage.model_dump(),
        "review": review_summary(review),
    }


def record_lead_failure(store: RunStore, run_id: str, index: int, error: str | None) -> dict[str, Any]:
    """The per-lead Catch: the lead failed for good; record it so the rest still land."""
    store.record_lead(run_id, index, {"status": "failed", "error": failure_message(error), "finished_at": now_iso()})
    return {"index": index, "status": "failed"}


def aggregate(store: RunSessionStore, run_id: str) -> dict[str, Any]:
    """Merge the run's examples into its session (see dal/dynamodb.py: versions first, then one commit)."""
    run = store.get_run(run_id)
    if run is None:
        return {"run_id": run_id, "status": "missing"}
    if run.status in FINAL_STATUSES:
        return {"run_id": run_id, "status": run.status}  # done before: change nothing

    leads = store.get_run_leads(run_id)
    examples = [example_from(lead, run) for lead in leads]
    progress, usage = tally(leads)
    progress = {**progress, "failed": sum(1 for e in examples if e["status"] == "failed")}
    session_id = run.session_id
    session = store.get_session(run.workspace_id, session_id)
    if session is None or session.task_run_id != run_id:
        return _fail(store, run, CLAIM_LOST, progress, usage)

    old_manifest = list(session.example_manifest)
    existing = [dict(zip(("lead_key", "run_id", "status"), parse_manifest_entry(e), strict=True)) for e in old_manifest]
    new = [{"lead_key": example_lead_key(e["lead_id"]), "run_id": run_id, "status": e["status"], "example": e}
           for e in examples]
    merged = merge_examples(existing, new, first_batch=run.context.is_first_batch,
                            key=lambda e: e["lead_key"])
    if len(merged) > MAX_EXAMPLES:
        message = (f"The session would hold more than {MAX_EXAMPLES} examples. "
                   "Start the next batch with isFirstBatch: true.")
        return _fail(store, run, message, progress, usage)
    manifest = [manifest_entry(e["lead_key"], e["run_id"], e["status"]) for e in merged]
    ours = [e["example"] for e in merged if e["run_id"] == run_id]
    # Holding the claim, no other run can commit: versions outside the manifest are leftovers of runs that never did.
    keep = {version_of(e) for e in old_manifest}
    _best_effort(store.delete_example_versions, session_id,
                 [v for v in store.example_version_keys(session_id) if v not in keep and not v.endswith(f"#{run_id}")])
    store.put_examples(session_id, ours)
    now = now_iso()
    try:
        store.finish_run_with_session(
            run_id,
            session_id,
            {"example_manifest": manifest, "updated_at": now},
            {"status": "COMPLETED", "finished_at": now, "progress": progress, "usage": usage},
        )
    except ClaimLost:
        again = store.get_run(run_id)
        if again is None or again.status != "COMPLETED":  # not an earlier try of this very commit
            _best_effort(store.delete_example_versions, session_id,
                         [f"{example_lead_key(e['lead_id'])}#{run_id}" for e in ours])
        return _fail(store, run, CLAIM_LOST, progress, usage)
    except RunAlreadyFinished:
        return {"run_id": run_id, "status": "COMPLETED"}
    except ItemTooLarge:
        message = "The session holds too many examples to add these. Start the next batch with isFirstBatch: true."
        return _fail(store, run, message, progress, usage)
    shown = {version_of(e) for e in manifest}
    _best_effort(store.delete_example_versions, session_id, [v for v in keep if v not in shown])
    logger.info("run completed", extra={"run_id": run_id, **progress})
    announce_run_end(store, run_id)  # this writer finished the run: it alone announces it
    return {"run_id": run_id, "status": "COMPLETED", **progress}


def _best_effort(cleanup, session_id: str, versions: list[str]) -> None:
    """Deleting versions no manifest names is housekeeping: they are never shown, so a failure waits for the
    next run's sweep."""
    if not versions:
        return
    try:
        cleanup(session_id, versions)
    except Exception:
        logger.warning("could not delete unused example versions", extra={"session_id": session_id}, exc_info=True)


def chat_turn(store: RunSessionStore, writer: Writer, run_id: str) -> dict[str, Any]:
    run = store.get_run(run_id)
    if run is None or run.status in FINAL_STATUSES:
        return {"run_id": run_id, "status": run.status if run else "missing"}
    session_id = run.session_id
    session = store.get_session(run.workspace_id, session_id)
    if session is None or session.task_run_id != run_id:
        return _fail(store, run, CLAIM_LOST)
    count = session.message_count
    if count + 2 > MAX_MESSAGES:
        return _fail(store, run, f"The session holds its limit of {MAX_MESSAGES} messages: start a new session.")
    store.mark_run_executing(run_id, now_iso())

    ctx = run.context
    prompt = framework_prompt(
        messages=[message.model_dump() for message in store.recent_messages(session_id, count, CHAT_WINDOW_CHARS)],
        earlier_messages=count,
        skeleton=session.skeleton,
        draft_subject=session.draft_subject,
        draft_body=session.draft_body,
        available_var_names=ctx.available_var_names,
        sample_leads=ctx.sample_leads,
        sequence_context=ctx.sequence_context,
        user_message=ctx.message,
        cache_key=f"{session_id}:chat",
    )
    try:
        result = writer.framework_turn(prompt)
    except LLMPermanentError as error:
        return _fail(store, run, str(error))

    now = now_iso()
    messages = [
        {"role": "user", "content": ctx.message, "created_at": ctx.message_created_at},
        {"role": "assistant", "content": result.value.reply, "created_at": now},
    ]
    fields: dict[str, Any] = {"message_count": count + len(messages), "updated_at": now}
    framework = result.value.framework
    if framework is not None:
        skeleton = framework.skeleton.model_dump()
        version = session.framework_version
        if session.skeleton:
            fields["skeleton_history"] = add_skeleton_history(session.skeleton_history, session.skeleton)
        if session.draft_subject or session.draft_body:
            entry = {
                "draft_subject": session.draft_subject,
                "draft_body": session.draft_body,
                "framework_version": version,
                "replaced_at": now,
            }
            fields["draft_history"] = add_draft_history(session.draft_history, entry)
        fields.update(
            skeleton=skeleton,
            draft_subject=framework.draft_subject,
            draft_body=framework.draft_body,
            framework_version=version + 1 if skeleton != session.skeleton else version,
        )
    usage = result.usage.model_dump()
    try:
        store.finish_run_with_session(
            run_id,
            session_id,
            fields,
            {"status": "COMPLETED", "finished_at": now, "usage": usage},
            new_messages=messages,
            first_message=count,
        )
    except ClaimLost:
        return _fail(store, run, CLAIM_LOST, usage=usage)
    except RunAlreadyFinished:
        return {"run_id": run_id, "status": "COMPLETED"}
    except ItemTooLarge:
        return _fail(store, run, "The model's answer was too large to store.", usage=usage)
    announce_run_end(store, run_id)  # this writer finished the run: it alone announces it
    return {"run_id": run_id, "status": "COMPLETED"}


def fail_and_release(store: RunSessionStore, run_id: str, error: str) -> dict[str, Any]:
    """The failure path of every run: mark it FAILED and free the session, if this run still holds it."""
    run = store.get_run(run_id)
    if run is None:
        return {"run_id": run_id, "status": "missing"}
    return _fail(store, run, error)


def _fail(
    store: RunSessionStore,
    run: RunItem,
    error: str,
    progress: dict[str, int] | None = None,
    usage: dict[str, int] | None = None,
) -> dict[str, Any]:
    fields: dict[str, Any] = {"status": "FAILED", "finished_at": now_iso(), "error": error}
    if progress is not None:
        fields["progress"] = progress
    if usage is not None:
        fields["usage"] = usage
    marked = store.fail_run(run.id, fields)
    released = store.release_claim(run.session_id, run.id)
    if marked:  # this writer failed the run: it alone announces it
        announce_run_end(store, run.id)
    logger.warning("run failed", extra={"run_id": run.id, "reason": error, "released": released, "marked": marked})
    return {"run_id": run.id, "status": "FAILED" if marked else "unchanged", "released": released}
