"""HTTP API handler: sessions, dispatch of chat turns and example runs, and run status.

The routes live in the shared layer (outreach/api/); this file only adapts the Lambda invocation.
"""

from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from outreach.api.resolver import resolve
from outreach.api.routes.tasks import metrics
from outreach.observability import service_logger, service_tracer

logger = service_logger()
tracer = service_tracer()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: Any) -> dict:
    return resolve(event, context)
