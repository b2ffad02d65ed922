"""Map iteration: write the email for one lead, or record that lead as failed (the per-lead Catch)."""

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.utilities.parser import BaseModel, event_parser

from outreach import METRICS_NAMESPACE, SERVICE_NAME, runtime
from outreach.config import settings
from outreach.logic import workers
from outreach.observability import service_logger, service_tracer

logger = service_logger()
tracer = service_tracer()
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)


class LeadTask(BaseModel):
    run_id: str
    index: int
    action: str = "generate"
    error: str | None = None


def add_review_metrics(review: dict) -> None:
    """ExamplesNeedingReview and ReviewRepairs with the lead's other metrics; ReviewFlags once per check that
    fired, with the check as a dimension (its own EMF blob: the others have no such dimension)."""
    if review["verdict"] == "needs_review":
        metrics.add_metric(name="ExamplesNeedingReview", unit=MetricUnit.Count, value=1)
    if review["attempts"] > 1:
        metrics.add_metric(name="ReviewRepairs", unit=MetricUnit.Count, value=1)
    if is_metrics_disabled():  # single_metric prints whatever POWERTOOLS_METRICS_DISABLED says
        return
    for check in review["checks"]:
        with single_metric(
            name="ReviewFlags", unit=MetricUnit.Count, value=1, namespace=METRICS_NAMESPACE,
            default_dimensions={"service": SERVICE_NAME},
        ) as metric:
            metric.add_dimension(name="check", value=check)


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=LeadTask)
def lambda_handler(task: LeadTask, context: Any) -> dict:
    logger.append_keys(run_id=task.run_id, lead_index=task.index)
    if task.action == "record_failure":
        out = workers.record_lead_failure(runtime.store(), task.run_id, task.index, task.error)
    else:
        out = workers.generate_lead(
            runtime.store(), runtime.writer(), task.run_id, task.index, llm_cap=settings().workspace_llm_concurrency
        )
    if out["status"] == "completed":
        metrics.add_metric(name="LeadsCompleted", unit="Count", value=1)
        metrics.add_metric(name="LeadLatency", unit="Milliseconds", value=out["latency_ms"])
        for name, value in out["usage"].items():
            metrics.add_metric(name="".join(part.title() for part in name.split("_")), unit="Count", value=value)
        add_review_metrics(out["review"])
    elif out["status"] == "failed":
        metrics.add_metric(name="LeadsFailed", unit="Count", value=1)
    return {"index": out["index"], "status": out["status"]}
