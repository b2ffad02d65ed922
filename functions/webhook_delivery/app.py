"""Delivers finished runs to their webhooks, signed per Standard Webhooks, from the webhook queue.

A failed try is reported as that record's failure with a longer delay each time
(ChangeMessageVisibility by receive count); after the queue's maxReceiveCount
the message goes to the webhook dead-letter queue.
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.parser import BaseModel
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import Json

from outreach import runtime
from outreach.config import settings
from outreach.logic import webhooks
from outreach.logic.auth import service_secret
from outreach.logic.trigger import queue_url, retry_delay_s
from outreach.observability import service_logger, service_tracer

logger = service_logger()
tracer = service_tracer()


class Delivery(BaseModel):
    webhook_id: str
    run_id: str


class DeliveryRecord(SqsRecordModel):
    body: Json[Delivery]


processor = BatchProcessor(event_type=EventType.SQS, model=DeliveryRecord, raise_on_entire_batch_failure=False)


def record_handler(record: DeliveryRecord) -> str:
    s = settings()
    delivery = record.body
    try:
        outcome = webhooks.deliver(
            runtime.store(), service_secret(s), delivery.model_dump(), allow_loopback=s.webhook_allow_loopback
        )
    except webhooks.DeliveryFailed as error:
        tries = int(record.attributes.ApproximateReceiveCount)
        delay = retry_delay_s(tries, s.webhook_retry_base_s)
        runtime.sqs().change_message_visibility(
            QueueUrl=queue_url(record.eventSourceARN), ReceiptHandle=record.receiptHandle, VisibilityTimeout=delay
        )
        logger.warning("webhook delivery failed; retried later",
                       extra={"run_id": delivery.run_id, "webhook_id": delivery.webhook_id, "try": tries,
                              "delay_s": delay, "reason": str(error)})
        raise
    logger.info("webhook " + outcome, extra={"run_id": delivery.run_id, "webhook_id": delivery.webhook_id})
    return outcome


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict, context: Any) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
