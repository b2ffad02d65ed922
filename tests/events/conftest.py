"""The local stack with its bus, queues and HTTP front, for the event-driven paths (issue 12)."""

from __future__ import annotations

import json
import threading

import pytest

from tests.client import ApiClient
from tests.stack_fixture import KEY_A, clean_slate, running_stack
from tests.waiting import wait_until


@pytest.fixture(scope="package")
def stack(fake_openai, tmp_path_factory):
    # Retries (a busy session's request, a refused webhook) after 1 s, 2 s, ... instead of 5 s or 30 s, ...
    with running_stack(fake_openai, tmp_path_factory.mktemp("state"), TRIGGER_RETRY_BASE_S="1",
                       WEBHOOK_RETRY_BASE_S="1", WEBHOOK_ALLOW_LOOPBACK="true") as local:
        yield local


@pytest.fixture
def api(stack, fake_openai):
    with clean_slate(stack, fake_openai):
        yield ApiClient(stack.url, KEY_A)


@pytest.fixture(scope="package")
def bus_tap(stack):
    """Every event the service puts on its bus (source outreach), as a subscriber's rule and queue would see it."""
    return BusTap(stack)


class BusTap:
    def __init__(self, stack):
        self.stack = stack
        sqs, events = stack.client("sqs"), stack.client("events")
        self.url = sqs.create_queue(QueueName="test-bus-tap")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        bus = stack.functions["TriggerFunction"].environment["EVENT_BUS_NAME"]
        events.put_rule(Name="test-bus-tap", EventBusName=bus, EventPattern=json.dumps({"source": ["outreach"]}))
        events.put_targets(Rule="test-bus-tap", EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn}])
        self.seen: list[dict] = []
        self._lock = threading.Lock()

    def drain(self) -> list[dict]:
        sqs = self.stack.client("sqs")
        with self._lock:
            while True:
                messages = sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", [])
                if not messages:
                    return list(self.seen)
                for message in messages:
                    self.seen.append(json.loads(message["Body"]))
                    sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])

    def wait_for(self, predicate, timeout_s: float = 30) -> list[dict]:
        return wait_until(lambda: [e for e in self.drain() if predicate(e)], timeout_s, "such an event on the bus")
