"""What the state machines' steps do: one lead, the aggregate, a chat turn, and the failure path.

Every step is idempotent: Step Functions may run a task twice, and a late
finisher of an expired run must not touch the session a newer run holds.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger

from outreach import SERVICE_NAME
from outreach.clock import now_epoch, now_iso
from outreach.dal.base import SessionStore
from outreach.dal.dynamodb import FINAL_STATUSES, ItemTooLarge, RunAlreadyFinished
from outreach.errors import ClaimLost, LLMPermanentError, WorkspaceBusy
from outreach.llm.base import Writer
from outreach.logic.merge import merge_examples
from outreach.logic.review import review_and_repair, review_summary
from outreach.logic.run_events import announce_run_end
from outreach.logic.runs import example_from, tally
from outreach.logic.sessions import HISTORY_LIMIT
from outreach.prompts import email_prompt, framework_prompt

logger = Logger(service=SERVICE_NAME, child=True)

# What a person reads on a failed lead or run, by Step Functions error name.
FAILURE_MESSAGES = {
    "LLMTransientError": "The LLM kept failing (rate limits or server errors) after retries.",
    "WorkspaceBusy": "The workspace's LLM calls stayed at their limit for too long; retry the batch.",
    "States.Timeout": "The step timed out.",
    "States.TaskFailed": "The step failed.",
    "Lambda.Unknown": "The worker crashed (out of memory or time).",
}
CLAIM_LOST = "The session was deleted or taken over by a newer run before the results could be written."


def failure_message(error: str | None) -> str:
    if not error:
        return "The run failed."
    return FAILURE_MESSAGES.get(error, f"The step failed ({error}).")


def _cache_key(run: dict[str, Any]) -> str:
    # One key per session and framework version: every lead of a run shares the prompt prefix.
    return f"{run['session_id']}:v{(run.get('context') or {}).get('framework_version', 0)}"


LEASE_S = 330  # longer than a lead's worker can live (its Lambda timeout), so a lease never outlives its call by much


def generate_lead(
    store: SessionStore, writer: Writer, run_id: str, index: int, *, llm_cap: int | None = None
) -> dict[str, Any]:
    """Write one lead's email. With ``llm_cap``, at most that many LLM calls of the workspace run at once;
    past it this raises WorkspaceBusy and the state machine tries the lead again a little later."""
    run, lead_item = store.get_run_and_lead(run_id, index)
    if run is None or lead_item is None or run["status"] in FINAL_STATUSES:
        return {"index": index, "status": "skipped"}
    if lead_item["status"] != "pending":
        return {"index": index, "status": lead_item["status"]}
    if index == 0:  # one worker marks the run started: a write per lead would contend for the run item
        store.mark_run_executing(run_id, now_iso())

    ctx = run["context"]
    prompt = email_prompt(
        skeleton=ctx["skeleton"],
        draft_subject=ctx.get("draft_subject"),
        draft_body=ctx.get("draft_body"),
        sequence_context=ctx.get("sequence_context"),
        lead=lead_item["lead"],
        cache_key=_cache_key(run),
    )
    lease = f"{run_id}:{index}"
    if llm_cap and not store.acquire_llm_slot(
        run["workspace_id"], lease, cap=llm_cap, now=now_epoch(), expires_at=now_epoch() + LEASE_S
    ):
        raise WorkspaceBusy(f"{llm_cap} LLM calls of this workspace are already in flight")
    started = time.monotonic()
    try:
        result = writer.write_email(prompt)  # LLMTransientError propagates: the state machine retries
        # May ask the model once more (inside the lease): ``result`` is the answer kept, its usage both calls'.
        result, review = review_and_repair(store, writer, run, lead_item, prompt, result)
    except LLMPermanentError as error:
        store.record_lead(run_id, index, {"status": "failed", "error": str(error), "finished_at": now_iso()})
        return {"index": index, "status": "failed"}
    finally:
        if llm_cap:
            store.release_llm_slot(run["workspace_id"], lease)
    latency_ms = round((time.monotonic() - started) * 1000)
    store.record_lead(
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


def record_lead_failure(store: SessionStore, run_id: str, index: int, error: str | None) -> dict[str, Any]:
    """The per-lead Catch: the lead failed for good; record it so the rest still land."""
    store.record_lead(run_id, index, {"status": "failed", "error": failure_message(error), "finished_at": now_iso()})
    return {"index": index, "status": "failed"}


def aggregate(store: SessionStore, run_id: str) -> dict[str, Any]:
    run = store.get_run(run_id)
    if run is None:
        return {"run_id": run_id, "status": "missing"}
    if run["status"] in FINAL_STATUSES:
        return {"run_id": run_id, "status": run["status"]}  # done before: change nothing

    leads = store.get_run_leads(run_id)
    examples = [example_from(lead, run) for lead in leads]
    progress, usage = tally(leads)
    progress = {**progress, "failed": sum(1 for e in examples if e["status"] == "failed")}
    session = store.get_session(run["workspace_id"], run["session_id"])
    if session is None or session.get("task_run_id") != run_id:
        return _fail(store, run, CLAIM_LOST, progress, usage)

    merged = merge_examples(
        session.get("generated_examples") or [], examples, first_batch=bool(run["context"].get("is_first_batch"))
    )
    now = now_iso()
    try:
        store.finish_run_with_session(
            run_id,
            run["session_id"],
            {"generated_examples": merged, "updated_at": now},
            {"status": "COMPLETED", "finished_at": now, "progress": progress, "usage": usage},
        )
    except ClaimLost:
        return _fail(store, run, CLAIM_LOST, progress, usage)
    except RunAlreadyFinished:
        return {"run_id": run_id, "status": "COMPLETED"}
    except ItemTooLarge:
        # The session item would pass DynamoDB's 400 KB limit: keep what it has, say why.
        message = "The session holds too many examples to add these. Start the next batch with isFirstBatch: true."
        return _fail(store, run, message, progress, usage)
    logger.info("run completed", extra={"run_id": run_id, **progress})
    announce_run_end(store, run_id)  # this writer finished the run: it alone announces it
    return {"run_id": run_id, "status": "COMPLETED", **progress}


def chat_turn(store: SessionStore, writer: Writer, run_id: str) -> dict[str, Any]:
    run = store.get_run(run_id)
    if run is None or run["status"] in FINAL_STATUSES:
        return {"run_id": run_id, "status": run["status"] if run else "missing"}
    session = store.get_session(run["workspace_id"], run["session_id"])
    if session is None or session.get("task_run_id") != run_id:
        return _fail(store, run, CLAIM_LOST)
    store.mark_run_executing(run_id, now_iso())

    ctx = run["context"]
    prompt = framework_prompt(
        messages=session.get("messages") or [],
        skeleton=session.get("skeleton"),
        draft_subject=session.get("draft_subject"),
        draft_body=session.get("draft_body"),
        available_var_names=ctx.get("available_var_names") or [],
        sample_leads=ctx.get("sample_leads") or [],
        sequence_context=ctx.get("sequence_context"),
        user_message=ctx["message"],
        cache_key=f"{run['session_id']}:chat",
    )
    try:
        result = writer.framework_turn(prompt)
    except LLMPermanentError as error:
        return _fail(store, run, str(error))

    now = now_iso()
    messages = list(session.get("messages") or []) + [
        {"role": "user", "content": ctx["message"], "created_at": ctx["message_created_at"]},
        {"role": "assistant", "content": result.value.reply, "created_at": now},
    ]
    fields: dict[str, Any] = {"messages": messages, "updated_at": now}
    framework = result.value.framework
    if framework is not None:
        skeleton = framework.skeleton.model_dump()
        version = int(session.get("framework_version") or 0)
        if session.get("skeleton"):
            fields["skeleton_history"] = (list(session.get("skeleton_history") or []) + [session["skeleton"]])[
                -HISTORY_LIMIT:
            ]
        if session.get("draft_subject") or session.get("draft_body"):
            entry = {
                "draft_subject": session.get("draft_subject"),
                "draft_body": session.get("draft_body"),
                "framework_version": version,
                "replaced_at": now,
            }
            fields["draft_history"] = (list(session.get("draft_history") or []) + [entry])[-HISTORY_LIMIT:]
        fields.update(
            skeleton=skeleton,
            draft_subject=framework.draft_subject,
            draft_body=framework.draft_body,
            framework_version=version + 1 if skeleton != session.get("skeleton") else version,
        )
    usage = result.usage.model_dump()
    try:
        store.finish_run_with_session(
            run_id,
            run["session_id"],
            fields,
            {"status": "COMPLETED", "finished_at": now, "usage": usage},
        )
    except ClaimLost:
        return _fail(store, run, CLAIM_LOST, usage=usage)
    except RunAlreadyFinished:
        return {"run_id": run_id, "status": "COMPLETED"}
    announce_run_end(store, run_id)  # this writer finished the run: it alone announces it
    return {"run_id": run_id, "status": "COMPLETED"}


def fail_and_release(store: SessionStore, run_id: str, error: str) -> dict[str, Any]:
    """The failure path of every run: mark it FAILED and free the session, if this run still holds it."""
    run = store.get_run(run_id)
    if run is None:
        return {"run_id": run_id, "status": "missing"}
    return _fail(store, run, error)


def _fail(
    store: SessionStore,
    run: dict[str, Any],
    error: str,
    progress: dict[str, int] | None = None,
    usage: dict[str, int] | None = None,
) -> dict[str, Any]:
    fields: dict[str, Any] = {"status": "FAILED", "finished_at": now_iso(), "error": error}
    if progress is not None:
        fields["progress"] = progress
    if usage is not None:
        fields["usage"] = usage
    marked = store.fail_run(run["id"], fields)
    released = store.release_claim(run["session_id"], run["id"])
    if marked:  # this writer failed the run: it alone announces it
        announce_run_end(store, run["id"])
    logger.warning("run failed", extra={"run_id": run["id"], "reason": error, "released": released, "marked": marked})
    return {"run_id": run["id"], "status": "FAILED" if marked else "unchanged", "released": released}
