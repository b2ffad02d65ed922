"""The service's event bus, locally: the template's buses, rules and queues in moto's events and SQS backends.

Everything is read from template.yaml: each AWS::SQS::Queue (with its
RedrivePolicy, so moto moves a message to the dead-letter queue after
maxReceiveCount receives), each AWS::Events::EventBus, and each AWS::Events::Rule
with its pattern and targets (moto matches the pattern and sends the event to
the target queue, as EventBridge does). The HTTP front hands AWS JSON calls
(EventBridge's PutEvents, SQS's ReceiveMessage, ...) to :func:`aws_json_call`.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from local.cfn import resources_of_type

SERVED_TARGETS = {"AWSEvents": "events", "AmazonSQS": "sqs"}  # X-Amz-Target prefix -> the moto service answering it
# moto's events backend leaves "account" out of the event it sends to a target; EventBridge sends the whole
# event. This transformer is moto's default with "account" put back.
_WHOLE_EVENT = {
    "InputPathsMap": {name: f"$.{name}" for name in
                      ("account", "detail", "detail-type", "source", "id", "region", "resources", "time")},
    "InputTemplate": '{"version": "0", "id": "<id>", "detail-type": "<detail-type>", "source": "<source>", '
                     '"account": "<account>", "time": <time>, "region": "<region>", "resources": <resources>, '
                     '"detail": <detail>}',
}
_QUEUE_ATTRIBUTES = ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds")


def create_queues(stack, physical: dict[str, dict[str, str]]) -> None:
    sqs = stack.client("sqs")
    queues = resources_of_type(stack.template, "AWS::SQS::Queue")
    for logical_id, resource in queues.items():
        props = resource.get("Properties") or {}
        attributes = {name: str(props[name]) for name in _QUEUE_ATTRIBUTES if name in props}
        name = f"outreach-local-{logical_id}"
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        physical[logical_id] = {"Ref": url, "Arn": arn, "QueueName": name, "QueueUrl": url}
    # Redrive policies name other queues' ARNs: set them once every queue exists.
    for logical_id, resource in queues.items():
        redrive = (resource.get("Properties") or {}).get("RedrivePolicy")
        if redrive:
            policy = stack.resolver.resolve(redrive)
            sqs.set_queue_attributes(
                QueueUrl=physical[logical_id]["Ref"], Attributes={"RedrivePolicy": json.dumps(policy)}
            )


def create_buses_and_rules(stack, physical: dict[str, dict[str, str]]) -> None:
    events = stack.client("events")
    for logical_id, resource in resources_of_type(stack.template, "AWS::Events::EventBus").items():
        name = str(stack.resolver.resolve(resource["Properties"]["Name"]))
        arn = events.create_event_bus(Name=name)["EventBusArn"]
        physical[logical_id] = {"Ref": name, "Arn": arn, "Name": name}
    for logical_id, resource in resources_of_type(stack.template, "AWS::Events::Rule").items():
        props = stack.resolver.resolve(resource["Properties"])
        bus = props.get("EventBusName", "default")
        arn = events.put_rule(
            Name=logical_id, EventBusName=bus, EventPattern=json.dumps(props["EventPattern"]), State="ENABLED"
        )["RuleArn"]
        targets = [{"Id": t["Id"], "Arn": t["Arn"], "InputTransformer": _WHOLE_EVENT} for t in props.get("Targets", [])]
        if targets:
            events.put_targets(Rule=logical_id, EventBusName=bus, Targets=targets)
        physical[logical_id] = {"Ref": logical_id, "Arn": arn}


def aws_json_call(stack, target: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """One AWS JSON call to the local bus or queues (``X-Amz-Target: AWSEvents.PutEvents``,
    ``AmazonSQS.ReceiveMessage``, ...), answered by moto in-process: (status, answer body). Any credentials
    pass. So the AWS CLI and SDKs with ``--endpoint-url`` put events, and read the dead-letter queues."""
    from botocore import xform_name
    from botocore.exceptions import ClientError, ParamValidationError

    prefix, _, operation = target.partition(".")
    service = SERVED_TARGETS.get(prefix)
    client = stack.client(service) if service else None
    if client is None or operation not in client.meta.service_model.operation_names:
        return 400, {"__type": "UnknownOperationException", "message": f"{target} is not served here"}
    try:
        params = json.loads(body or b"{}")
        if not isinstance(params, dict):
            raise TypeError("the body is not a JSON object")
    except (ValueError, TypeError) as error:
        return 400, {"__type": "SerializationException", "message": str(error)}
    try:
        answer = getattr(client, xform_name(operation))(**params)
    except ParamValidationError as error:
        return 400, {"__type": "ValidationException", "message": str(error)}
    except ClientError as error:
        info = error.response.get("Error", {})
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
        return status, {"__type": info.get("Code", "ValidationException"), "message": info.get("Message", "")}
    answer.pop("ResponseMetadata", None)
    return 200, json.loads(json.dumps(answer, default=_wire))


def _wire(value: Any) -> Any:
    # The AWS JSON protocol's shapes: timestamps as epoch seconds, blobs as base64.
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"cannot send {type(value).__name__}")
