"""Starts example runs requested on the event bus ("Generate Examples Requested", through the trigger queue).

Each SQS record is one request. Powertools' batch utility reports per-record
failures, so one busy or failing request never holds the rest back.
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel, SqsRecordModel
from pydantic import Json

from outreach import runtime
from outreach.config import settings
from outreach.logic import trigger
from outreach.logic.auth import service_secret
from outreach.observability import service_logger, service_tracer

logger = service_logger()
tracer = service_tracer()


class RequestEvent(EventBridgeModel):
    detail: Any  # validated by the domain, so a bad detail is rejected with its reason rather than retried


class RequestRecord(SqsRecordModel):
    body: Json[RequestEvent]


class SessionBusyRetry(Exception):
    """Reported as this record's failure: the message stays queued, hidden for the delay set on it."""


# An all-busy batch is not an error of the function: its records are reported, never raised.
processor = BatchProcessor(event_type=EventType.SQS, model=RequestRecord, raise_on_entire_batch_failure=False)


def record_handler(record: RequestRecord) -> str | None:
    s = settings()
    event = record.body
    outcome = trigger.handle_requested(runtime.store(), runtime.stepfunctions(), s, service_secret(s), event.detail)
    if outcome.action == "dispatched":
        logger.info("requested run dispatched", extra={"run_id": outcome.run_id, "request_event_id": event.id})
        return outcome.run_id
    if outcome.action == "busy":
        delay = trigger.retry_delay_s(int(record.attributes.ApproximateReceiveCount), s.trigger_retry_base_s)
        runtime.sqs().change_message_visibility(
            QueueUrl=trigger.queue_url(record.eventSourceARN),
            ReceiptHandle=record.receiptHandle,
            VisibilityTimeout=delay,
        )
        logger.info("session busy; request retried later", extra={"request_event_id": event.id, "delay_s": delay})
        raise SessionBusyRetry(f"session busy, next try in {delay} s")
    # Rejected: it can never run. Dead-letter it with its reason now, and say so on the bus.
    reason = {"code": outcome.code, "reason": outcome.reason}
    logger.warning("request rejected", extra={"request_event_id": event.id, **reason})
    runtime.sqs().send_message(
        QueueUrl=s.trigger_dead_letter_queue_url,
        MessageBody=event.model_dump_json(by_alias=True),
        MessageAttributes={
            name: {"DataType": "String", "StringValue": str(value)[:1024]} for name, value in reason.items() if value
        },
    )
    try:
        runtime.eventbridge().put_events(Entries=[trigger.rejected_entry(s, event.detail, outcome, event.id)])
    except Exception:  # the dead-lettered message keeps the reason; the event is a courtesy
        logger.exception("could not put the rejection event", extra={"request_event_id": event.id})
    return None


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: Any) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
