"""Time budgets that nest: one LLM call < its function's timeout < the workflow that runs it.

Every number a budget needs is either an AWS limit (here), a default the
settings read from here, or a value in template.yaml or the ASL files. The
functions below compute worst cases from those numbers;
``tests/unit/test_budgets.py`` feeds them the real files and checks that

- a lead's LLM worst case < GenerateLeadFunction's Timeout,
- a lead's Express child, every retry and its failure record included, < 5 minutes,
  so a lead always ends with its own reason recorded (AWS stops a longer child as
  a whole: its Catch never runs),
- a chat turn's LLM worst case < ChatTurnFunction's Timeout, and the chat run < the run limit,
- the generate run (one wave of children, the aggregate, the release) < the run limit.

Worst cases only ever use the longest wait a Retry can make (jitter only shortens it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

# AWS: an Express execution (each lead's Distributed Map child) runs at most 5 minutes.
EXPRESS_CHILD_LIMIT_S = 300

# The openai SDK: the first request plus ``max_retries`` retries, each up to ``timeout``. Between retries it
# waits its own backoff (at most 8 s) or what the server's Retry-After asks, up to 2 minutes: we cap that wait
# (openai_writer.BoundedRetryOpenAI) so a call's worst case is bounded; a longer rate limit becomes
# LLMTransientError and the state machine's Retry waits instead.
SDK_RETRY_WAIT_CAP_S = 8.0
# Output that fails validation (refused, cut off, empty) is asked for once more.
OUTPUT_ATTEMPTS = 2

# Defaults of the LLM settings (LLM_TIMEOUT_S, LLM_MAX_RETRIES, CHAT_LLM_TIMEOUT_S). An email is ~150 tokens:
# seconds, so 12 s per request is generous; a framework turn writes more and gets longer.
LEAD_LLM_TIMEOUT_S = 12.0
LLM_MAX_RETRIES = 1
CHAT_LLM_TIMEOUT_S = 60.0

# An attempt that ends before any LLM call (the workspace at its cap, Lambda refusing the invoke) makes a few
# DynamoDB requests at most: this is its budget.
QUICK_ATTEMPT_S = 5.0
QUICK_ERRORS = frozenset(
    {
        "WorkspaceBusy",
        # Raised only before the LLM call: after it, the result is written with its own retries and then
        # ResultNotStored (not retried), so a retried StoreThrottled attempt never holds an LLM call.
        "StoreThrottled",
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    }
)

# A workspace LLM lease expires after this: longer than any worker holding it can live (a worker's timeout
# is under the Express limit, which the budget test checks), so a crashed worker's slot frees itself.
LEASE_S = EXPRESS_CHILD_LIMIT_S + 30


def llm_call_worst_s(timeout_s: float, max_retries: int) -> float:
    """One output attempt through the SDK: every request times out, with the longest wait between them."""
    return (max_retries + 1) * timeout_s + max_retries * SDK_RETRY_WAIT_CAP_S


def llm_worst_s(timeout_s: float, max_retries: int) -> float:
    """A writer call: every output attempt at its worst."""
    return OUTPUT_ATTEMPTS * llm_call_worst_s(timeout_s, max_retries)


def retry_waits_s(retrier: Mapping[str, Any]) -> float:
    """The longest a Retry rule can wait in total: IntervalSeconds x BackoffRate^n, each capped by MaxDelaySeconds."""
    interval = float(retrier.get("IntervalSeconds", 1))
    rate = float(retrier.get("BackoffRate", 2.0))
    cap = float(retrier.get("MaxDelaySeconds", math.inf))
    return sum(min(interval * rate**n, cap) for n in range(int(retrier.get("MaxAttempts", 3))))


def attempt_worst_s(errors: Iterable[str], function_timeout_s: float, task_timeout_s: float | None = None) -> float:
    """What one attempt that ends in one of ``errors`` can cost: a quick one, or the whole timeout."""
    if set(errors) <= QUICK_ERRORS:
        return QUICK_ATTEMPT_S
    return min(function_timeout_s, task_timeout_s or math.inf)


def task_worst_s(state: Mapping[str, Any], function_timeout_s: float) -> float:
    """A Task state with its Retry rules: the first attempt, every retry, every wait.

    A task's TimeoutSeconds bounds each attempt as Step Functions sees it (States.Timeout), whatever the
    function's own timeout."""
    task_timeout = state.get("TimeoutSeconds")
    worst = min(function_timeout_s, task_timeout or math.inf)
    for retrier in state.get("Retry", []):
        per_attempt = attempt_worst_s(retrier["ErrorEquals"], function_timeout_s, task_timeout)
        worst += int(retrier.get("MaxAttempts", 3)) * per_attempt + retry_waits_s(retrier)
    return worst


def waves(items: int, max_concurrency: int) -> int:
    """How many rounds of children a Distributed Map runs for ``items`` at ``max_concurrency``."""
    return math.ceil(items / max_concurrency)
