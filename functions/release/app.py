"""The failure path: mark the run FAILED and free the session.

Invoked two ways: by the state machines' Catch-all (``{run_id, error}``), and by
an EventBridge rule on executions that FAILED, TIMED_OUT or were ABORTED, which
no Catch can see (the execution name is the run id). Both are parsed by Powertools' parser.
"""

from typing import Any, Literal

from aws_lambda_powertools.utilities.parser import BaseModel, Field, event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

from outreach import runtime
from outreach.logic import workers
from outreach.observability import service_logger, service_tracer

logger = service_logger()
tracer = service_tracer()

ENDED_WHY = {
    "TIMED_OUT": "The run took longer than its time limit and was stopped.",
    "ABORTED": "The run was stopped (aborted).",
}


class ExecutionStatus(BaseModel):
    """The detail of Step Functions' status-change event: the execution is named after its run."""

    name: str
    status: str


class ExecutionStatusChange(EventBridgeModel):
    detail_type: Literal["Step Functions Execution Status Change"] = Field(alias="detail-type")
    detail: ExecutionStatus


class CatchAllFailure(BaseModel):
    """What a state machine's Catch-all passes: the run and the error name it caught."""

    run_id: str
    error: str | None = None


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler
@event_parser(model=ExecutionStatusChange | CatchAllFailure)
def lambda_handler(event: ExecutionStatusChange | CatchAllFailure, context: Any) -> dict:
    if isinstance(event, ExecutionStatusChange):
        run_id = event.detail.name
        error = ENDED_WHY.get(event.detail.status, "The run's execution failed.")
    else:
        run_id, error = event.run_id, workers.failure_message(event.error)
    logger.append_keys(run_id=run_id)
    return workers.fail_and_release(runtime.store(), run_id, error)
