"""Top-up runs requested on the event bus: validated and dispatched exactly as the HTTP route does.

Three outcomes per request: dispatched; busy (the session runs another task: the
message waits in the queue, longer at each receive, and is tried again); or
rejected (it can never run: invalid, unknown session or workspace, no framework).
A rejected request goes to the dead-letter queue with its reason at once, and a
"Generate Examples Rejected" event says so on the bus.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from outreach import SERVICE_NAME
from outreach.config import Settings
from outreach.dal.base import SessionStore
from outreach.errors import ApiError, SessionBusy
from outreach.logic.runs import dispatch
from outreach.models.events import GENERATE_REJECTED, SERVICE_SOURCE, GenerateExamplesRequested

logger = Logger(service=SERVICE_NAME, child=True)
MAX_RETRY_DELAY_S = 900  # a claim lasts at most RUN_TIMEOUT_S (900 s by default): wait no longer than that


@dataclass(frozen=True)
class Outcome:
    action: str  # dispatched | busy | rejected
    run_id: str | None = None
    code: str | None = None
    reason: str | None = None


def _validation_reason(error: ValidationError) -> str:
    # Field paths and messages only: never the input (leads are personal data).
    problems = [f"{'.'.join(str(p) for p in e['loc']) or 'detail'}: {e['msg']}" for e in error.errors()]
    return "; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")


def handle_requested(
    store: SessionStore, sfn, settings: Settings, secret: bytes, detail: Any
) -> Outcome:
    try:
        request = GenerateExamplesRequested.model_validate(detail)
    except ValidationError as error:
        return Outcome("rejected", code="validation_error", reason=_validation_reason(error))
    try:
        out = dispatch(store, sfn, settings, secret, request.workspace_id, request.session_id, request)
    except SessionBusy:
        return Outcome("busy")
    except ApiError as error:
        if error.status >= 500:
            raise  # dispatch_failed: the claim was released; the queue tries again
        return Outcome("rejected", code=error.code, reason=error.message)
    return Outcome("dispatched", run_id=out["runId"])


def retry_delay_s(receive_count: int, base_s: int) -> int:
    """How long a request for a busy session waits before its next try: doubling from base_s, capped."""
    return int(min(MAX_RETRY_DELAY_S, base_s * 2 ** max(0, receive_count - 1)))


def queue_url(queue_arn: str) -> str:
    """An SQS queue's URL from its ARN (arn:aws:sqs:<region>:<account>:<name>): what SQS calls take."""
    _, partition, _, region, account, name = queue_arn.split(":", 5)
    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"https://sqs.{region}.{suffix}/{account}/{name}"


def rejected_entry(settings: Settings, detail: Any, outcome: Outcome, request_event_id: str) -> dict[str, Any]:
    """The PutEvents entry that tells the bus a request was rejected (and why); no lead data."""
    ids = detail if isinstance(detail, dict) else {}
    return {
        "Source": SERVICE_SOURCE,
        "DetailType": GENERATE_REJECTED,
        "EventBusName": settings.event_bus_name,
        "Detail": json.dumps({
            "workspace_id": ids.get("workspace_id") if isinstance(ids.get("workspace_id"), str) else None,
            "session_id": ids.get("session_id") if isinstance(ids.get("session_id"), str) else None,
            "request_event_id": request_event_id,
            "code": outcome.code,
            "reason": outcome.reason,
        }),
    }
