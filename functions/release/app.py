"""The failure path: mark the run FAILED and free the session.

Invoked two ways: by the state machines' Catch-all (``{run_id, error}``), and by
an EventBridge rule on executions that FAILED, TIMED_OUT or were ABORTED, which
no Catch can see (the execution name is the run id).
"""

from typing import Any


from outreach import runtime
from outreach.observability import service_logger, service_tracer
from outreach.logic import workers

logger = service_logger()
tracer = service_tracer()


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: Any) -> dict:
    if event.get("detail-type") == "Step Functions Execution Status Change":
        detail = event.get("detail") or {}
        run_id, status = detail.get("name", ""), str(detail.get("status", "FAILED"))
        error = {
            "TIMED_OUT": "The run took longer than its time limit and was stopped.",
            "ABORTED": "The run was stopped (aborted).",
        }.get(status, "The run's execution failed.")
    else:
        run_id, error = event.get("run_id", ""), workers.failure_message(event.get("error"))
    logger.append_keys(run_id=run_id)
    return workers.fail_and_release(runtime.store(), run_id, error)
