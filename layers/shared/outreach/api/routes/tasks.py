"""Tasks that claim a session: a chat turn, an example run. Both answer ``{runId, publicAccessToken}`` at once."""

from __future__ import annotations

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.event_handler import Response
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
        {**SESSION_ERRORS, **BODY_ERRORS, 409: None, 500: _DISPATCH_FAILED,
         422: "The body fails validation (validation_error), a field would not fit what it is stored in "
         "(too_large, `details` names it), or the session holds its 500 messages (too_many_messages)."},
    ),
)
def chat_turn(session_id: SessionId, body: ChatTurnRequest) -> Response[Dispatched]:
    s = settings()
    out = runs.dispatch_chat_turn(
        runtime.store(), runtime.stepfunctions(), s, service_secret(s), router.context["workspace_id"], session_id,
        body,
    )
    metrics.add_metric(name="ChatTurnsDispatched", unit="Count", value=1)
    return answer(200, out)


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
        {**SESSION_ERRORS, **BODY_ERRORS, 409: None,
         400: "The body is not JSON (invalid_json), the id is off its pattern (validation_error), or the session "
         "has no framework yet (no_framework): chat first.",
         422: "The body fails validation (validation_error), a field would not fit what it is stored in "
         "(too_large, `details` names it), or the session would hold over 1,000 examples (too_many_examples).",
         500: _DISPATCH_FAILED},
    ),
)
def generate_examples(session_id: SessionId, body: GenerateExamplesRequest) -> Response[Dispatched]:
    s = settings()
    out = runs.dispatch_generate(
        runtime.store(), runtime.stepfunctions(), s, service_secret(s), router.context["workspace_id"], session_id,
        body,
    )
    metrics.add_metric(name="LeadsDispatched", unit="Count", value=len(body.leads))
    return answer(200, out)
