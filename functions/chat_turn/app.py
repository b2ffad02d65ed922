"""One chat turn: ask the framework LLM, then update the session and release the claim."""

from typing import Any

from aws_lambda_powertools.utilities.parser import BaseModel, event_parser

from outreach import runtime
from outreach.logic import workers
from outreach.observability import service_logger, service_tracer

logger = service_logger()
tracer = service_tracer()


class RunTask(BaseModel):
    run_id: str


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler
@event_parser(model=RunTask)
def lambda_handler(task: RunTask, context: Any) -> dict:
    logger.append_keys(run_id=task.run_id)
    return workers.chat_turn(runtime.store(), runtime.writer(), task.run_id)
