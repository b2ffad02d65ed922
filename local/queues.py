"""Lambda's SQS event source mappings, locally: each function's `Type: SQS` event in template.yaml.

A poller per mapping receives up to BatchSize messages, invokes the function
with the event Lambda builds, and deletes what succeeded: with
ReportBatchItemFailures, every record not named in ``batchItemFailures``; a
function that raises deletes nothing. Messages left undeleted reappear after
their visibility timeout (or the one the function set), and moto's redrive
moves them to the dead-letter queue after maxReceiveCount receives.
"""

from __future__ import annotations

import threading
from typing import Any

from local.cfn import resources_of_type


def sqs_sources(stack) -> list[dict[str, Any]]:
    sources = []
    for logical_id, resource in resources_of_type(stack.template, "AWS::Serverless::Function").items():
        for event in (resource.get("Properties", {}).get("Events") or {}).values():
            if event.get("Type") != "SQS":
                continue
            props = event["Properties"]
            queue_arn = stack.resolver.resolve(props["Queue"])
            (url,) = [p["Ref"] for p in stack.resolver.physical.values() if p.get("Arn") == queue_arn]
            sources.append({
                "function": logical_id,
                "queue_url": url,
                "queue_arn": queue_arn,
                "batch_size": int(props.get("BatchSize", 10)),
                "partial": "ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
            })
    return sources


def _record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    attributes = {
        key: message.get("Attributes", {}).get(key, "")
        for key in ("ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp")
    }
    message_attributes = {
        name: {"stringValue": value.get("StringValue"), "binaryValue": value.get("BinaryValue"),
               "stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}
        for name, value in (message.get("MessageAttributes") or {}).items()
    }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }


class QueuePollers:
    def __init__(self, stack, interval_s: float = 0.1):
        self.stack = stack
        self.sources = sqs_sources(stack)
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sqs = stack.client("sqs")  # one client for every poller: building one costs tens of ms
        self._arns = {source["queue_url"]: source["queue_arn"] for source in self.sources}

    def start(self) -> None:
        for source in self.sources:
            thread = threading.Thread(target=self._loop, args=(source,), name=f"sqs-{source['function']}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def _loop(self, source: dict[str, Any]) -> None:
        while not self._stop.is_set():
            try:
                busy = self.poll(source)
            except Exception:  # noqa: BLE001 - a poll that fails is tried again on the next tick, as Lambda's would
                busy = False
            if not busy:
                self._stop.wait(self.interval_s)

    def _has_visible_messages(self, queue_url: str) -> bool:
        # Read moto's queue in-process: a ReceiveMessage through boto3 ten times a second per queue costs
        # more CPU than the stack can spare on a small machine.
        from moto.sqs.models import sqs_backends

        _, _, _, region, account, name = self._arns[queue_url].split(":", 5)
        queue = sqs_backends[account][region].queues.get(name)
        return queue is not None and bool(queue.messages)

    def poll(self, source: dict[str, Any]) -> bool:
        """One batch: True when there were messages (poll again at once)."""
        if not self._has_visible_messages(source["queue_url"]):
            return False
        sqs = self._sqs
        messages = sqs.receive_message(
            QueueUrl=source["queue_url"], MaxNumberOfMessages=min(source["batch_size"], 10),
            AttributeNames=["All"], MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return False
        records = [_record(m, source["queue_arn"]) for m in messages]
        try:
            result = self.stack.invoke(source["function"], {"Records": records})
        except Exception:  # noqa: BLE001 - a function error: the whole batch comes back after its visibility timeout
            return True
        failed = set()
        if source["partial"] and isinstance(result, dict):
            failed = {f.get("itemIdentifier") for f in result.get("batchItemFailures") or []}
        done = [{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(records)
                if r["messageId"] not in failed]
        if done:
            sqs.delete_message_batch(QueueUrl=source["queue_url"], Entries=done)
        return True
