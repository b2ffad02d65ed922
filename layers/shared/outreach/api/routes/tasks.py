"""Tasks that claim a session: a chat turn, an example run. Both answer ``{runId, publicAccessToken}`` at once."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from outreach import METRICS_NAMESPACE, SERVICE_NAME, runtime
from outreach.api.documentation import API_KEY, BODY_ERRORS, SESSION_ERRORS, SESSIONS, SessionId, responses
from outreach.api.errors import answer
from outreach.config import settings
from outreach.logic import runs
from outreach.logic.auth import service_secret
from outreach.models.requests import ChatTurnRequest, GenerateExamplesRequest
from outreach.models.responses import Dispatched

router = APIGatewayHttpRouter()
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)
_DISPATCH_FAILED = "The run could not be started (dispatch_failed); the session is free again, retry."
_KEYED_ERRORS: dict[int, str | None] = {
    409: "Another task holds the session (session_busy): poll it until task_status is null, then retry. Or a "
    "request with the same Idempotency-Key is still being recorded (idempotency_key_in_progress; `runId` names its "
    "run once known): retry with the same key.",
    422: "The body or a header fails validation (validation_error; `details` lists the problems), or the "
    "Idempotency-Key was used with another body within 24 h (idempotency_key_reused).",
}
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x2b\x2d-\x7e]+$",  # no comma: API Gateway's v2 events join repeated headers with one
        description=(
            "Optional. A key you choose (1-255 printable ASCII characters, no space or comma; e.g. a uuid) that "
            "makes a retry safe: "
            "the same key with the same body within 24 h answers the first dispatch's runId with a fresh "
            "publicAccessToken, starts no new run and claims nothing (header `Idempotent-Replayed: true`). The same "
            "key with another body: 422 idempotency_key_reused. A dispatch that failed frees its key. Keys are per "
            "workspace, session and route."
        ),
    ),
]


def _dispatch(route: str, session_id: str, key: str | None, body: ChatTurnRequest | GenerateExamplesRequest,
              metric: tuple[str, int]) -> Response:
    """Start the run the body asks for, at most once per Idempotency-Key; a replay says so in a header."""
    s = settings()
    secret = service_secret(s)
    workspace_id = router.context["workspace_id"]

    def start(fingerprint: str | None) -> dict[str, str]:
        out = runs.dispatch(runtime.store(), runtime.stepfunctions(), s, secret, workspace_id, session_id, body,
                            idempotency_key=fingerprint)
        metrics.add_metric(name=metric[0], unit="Count", value=metric[1])
        return out

    if key is None:
        return answer(200, start(None))
    from outreach.logic import idempotency  # Powertools' idempotency utility: loaded by keyed dispatches only

    dispatched, replayed = idempotency.dispatch_once(
        runtime.store(), s, secret,
        workspace_id=workspace_id, session_id=session_id, route=route, key=key,
        body=body.model_dump(mode="json", by_alias=True),
        dispatch=start,
        lambda_context=router.lambda_context,
    )
    return answer(200, dispatched, headers={"Idempotent-Replayed": "true"} if replayed else None)


@router.post(
    f"{SESSIONS}/<session_id>/turn",
    summary="Send a chat message",
    description=(
        "Claims the session (task_status `chat_processing`) and starts a chat turn: the message and the "
        "assistant's reply are appended to `messages`, and a framework the model gives replaces `skeleton`, the "
        "draft and bumps `framework_version`. Poll the session until task_status is null. Unknown body fields "
        "are ignored."
    ),
    operation_id="chatTurn",
    tags=["tasks"],
    security=[{API_KEY: []}],
    responses=responses(
        200,
        Dispatched,
        "The turn was started.",
        {**SESSION_ERRORS, **BODY_ERRORS, **_KEYED_ERRORS, 500: _DISPATCH_FAILED,
         422: "The body or a header fails validation (validation_error), a field would not fit what it is stored in "
         "(too_large, `details` names it), the session holds its 500 messages (too_many_messages), or the "
         "Idempotency-Key was used with another body within 24 h (idempotency_key_reused)."},
    ),
)
def chat_turn(
    session_id: SessionId, body: ChatTurnRequest, idempotency_key: IdempotencyKey = None
) -> Response[Dispatched]:
    return _dispatch("turn", session_id, idempotency_key, body, ("ChatTurnsDispatched", 1))


@router.post(
    f"{SESSIONS}/<session_id>/generate-examples",
    summary="Write sample emails for leads",
    description=(
        "Claims the session (task_status `generating_examples`) and writes one email per lead (1 to 100) from "
        "the session's framework, in parallel. Results land in `generated_examples` in the leads' order: "
        "`isFirstBatch: true` replaces them, false appends (replacing an earlier example of the same lead). "
        "409 comes before 400 no_framework. Unknown body fields are ignored."
    ),
    operation_id="generateExamples",
    tags=["tasks"],
    security=[{API_KEY: []}],
    responses=responses(
        200,
        Dispatched,
        "The run was started.",
        {**SESSION_ERRORS, **BODY_ERRORS, **_KEYED_ERRORS,
         400: "The body is not JSON (invalid_json), the id is off its pattern (validation_error), or the session "
         "has no framework yet (no_framework): chat first.",
         422: "The body or a header fails validation (validation_error), a field would not fit what it is stored "
         "in (too_large, `details` names it), the session would hold over 1,000 examples (too_many_examples), or "
         "the Idempotency-Key was used with another body within 24 h (idempotency_key_reused).",
         500: _DISPATCH_FAILED},
    ),
)
def generate_examples(
    session_id: SessionId, body: GenerateExamplesRequest, idempotency_key: IdempotencyKey = None
) -> Response[Dispatched]:
    return _dispatch("generate-examples", session_id, idempotency_key, body, ("LeadsDispatched", len(body.leads)))
