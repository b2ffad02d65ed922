"""Runs started by events: PutEvents on the local stack's port, the rule, the trigger queue and function."""

from __future__ import annotations

import http.client
import json
import threading
import uuid
from urllib.parse import urlsplit

import boto3
import pytest

from tests.client import ApiClient
from tests.stack_fixture import KEY_B
from tests.waiting import wait_until

REQUESTED = "Generate Examples Requested"
LEADS = [{"first_name": "Ada", "company": "Analytical Engines"}, {"first_name": "Grace", "company": "Cobol Co"}]


def events_client(stack):
    # Any credentials: the local stack accepts them all, as the README says.
    return boto3.client("events", endpoint_url=stack.url, region_name="us-east-1",
                        aws_access_key_id="anything", aws_secret_access_key="anything")


def put_request(stack, detail: dict, *, source: str = "outreach.client", detail_type: str = REQUESTED) -> str:
    answer = events_client(stack).put_events(Entries=[{
        "Source": source, "DetailType": detail_type, "Detail": json.dumps(detail), "EventBusName": "outreach",
    }])
    assert answer["FailedEntryCount"] == 0, answer
    return answer["Entries"][0]["EventId"]



def examples_of(api, session_id: str) -> list[dict]:
    body = api.session(session_id).body
    return body["generated_examples"] if body["task_status"] is None else []


def dead_lettered(stack, event_id: str, timeout_s: float = 30) -> dict:
    """The request in the dead-letter queue, read from outside as an operator would (SQS on the stack's port)."""
    sqs = boto3.client("sqs", endpoint_url=stack.url, region_name="us-east-1",
                       aws_access_key_id="anything", aws_secret_access_key="anything")
    (url,) = [u for u in sqs.list_queues()["QueueUrls"] if u.endswith("TriggerDeadLetterQueue")]

    def find():
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                       MessageAttributeNames=["All"]).get("Messages", [])
        return next((m for m in messages if json.loads(m["Body"])["id"] == event_id), None)

    return wait_until(find, timeout_s, "the dead-lettered request")


def test_an_event_starts_a_top_up_on_an_idle_session(api, stack):
    session = api.session_with_framework()
    put_request(stack, {"workspace_id": "ws_a", "session_id": session["id"], "leads": LEADS, "isFirstBatch": True})
    examples = wait_until(lambda: examples_of(api, session["id"]), what="the requested run's examples")
    assert [(e["lead"]["first_name"], e["status"]) for e in examples] == [("Ada", "completed"), ("Grace", "completed")]


def test_put_events_as_a_raw_aws_json_request(api, stack):
    session = api.session_with_framework()
    url = urlsplit(stack.url)
    entry = {"Source": "outreach.client", "DetailType": REQUESTED, "EventBusName": "outreach",
             "Detail": json.dumps({"workspace_id": "ws_a", "session_id": session["id"], "leads": LEADS[:1]})}
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    connection.request("POST", "/", body=json.dumps({"Entries": [entry]}), headers={
        "X-Amz-Target": "AWSEvents.PutEvents", "Content-Type": "application/x-amz-json-1.1",
        "Authorization": "AWS4-HMAC-SHA256 Credential=whatever/20260101/us-east-1/events/aws4_request, "
                         "SignedHeaders=host, Signature=00"})
    response = connection.getresponse()
    answer = json.loads(response.read())
    assert response.status == 200 and answer["FailedEntryCount"] == 0 and answer["Entries"][0]["EventId"]
    examples = wait_until(lambda: examples_of(api, session["id"]), what="the requested run's examples")
    assert [e["lead"]["first_name"] for e in examples] == ["Ada"]

    for target in ("AWSEvents.NoSuchOperation", "DynamoDB_20120810.Scan"):  # only the bus and the queues are served
        connection.request("POST", "/", body="{}", headers={"X-Amz-Target": target})
        response = connection.getresponse()
        assert response.status == 400 and json.loads(response.read())["__type"] == "UnknownOperationException"


def test_a_request_for_a_busy_session_runs_after_the_busy_task(api, stack):
    session = api.session_with_framework()
    release_turn, trigger_tries = threading.Event(), []

    def hold_the_turn(function, event):
        if function == "ChatTurnFunction":
            release_turn.wait(60)
        elif function == "TriggerFunction":
            trigger_tries.append(event)

    stack.before_invoke = hold_the_turn
    assert api.turn(session["id"], "Make it shorter.").status == 200
    put_request(stack, {"workspace_id": "ws_a", "session_id": session["id"], "leads": LEADS})
    wait_until(lambda: len(trigger_tries) >= 2, what="the request to be tried twice while the session is busy")
    assert api.session(session["id"]).body["task_status"] == "chat_processing"
    release_turn.set()
    examples = wait_until(lambda: examples_of(api, session["id"]), what="the requested run after the turn")
    assert [e["status"] for e in examples] == ["completed", "completed"]
    assert len(api.session(session["id"]).body["messages"]) == 4, "the turn ran first, then the top-up"


@pytest.mark.parametrize("case", ["unknown_session", "other_workspace", "unknown_workspace", "no_framework",
                                  "no_leads", "bad_lead", "no_workspace"])
def test_an_invalid_request_never_runs_and_is_dead_lettered_with_its_reason(api, stack, bus_tap, case):
    session = api.session_with_framework() if case != "no_framework" else api.create_session()
    other = ApiClient(stack.url, KEY_B).create_session()
    detail = {"workspace_id": "ws_a", "session_id": session["id"], "leads": LEADS}
    expected = "session_not_found"
    if case == "unknown_session":
        detail["session_id"] = str(uuid.uuid4())
    elif case == "other_workspace":
        detail["session_id"] = other["id"]
    elif case == "unknown_workspace":
        detail["workspace_id"] = "ws_nobody"
    elif case == "no_framework":
        expected = "no_framework"
    elif case == "no_leads":
        detail["leads"], expected = [], "validation_error"
    elif case == "bad_lead":
        detail["leads"], expected = [{"headline": "no name, no company"}], "validation_error"
    elif case == "no_workspace":
        del detail["workspace_id"]
        expected = "validation_error"
    event_id = put_request(stack, detail)

    message = dead_lettered(stack, event_id)
    assert message["MessageAttributes"]["code"]["StringValue"] == expected
    assert message["MessageAttributes"]["reason"]["StringValue"]
    assert json.loads(message["Body"])["detail"] == detail, "the request is kept as sent, to be replayed"
    (rejected,) = bus_tap.wait_for(lambda e: e["detail"].get("request_event_id") == event_id)
    assert rejected["source"] == "outreach" and rejected["detail-type"] == "Generate Examples Rejected"
    assert rejected["detail"]["code"] == expected and rejected["detail"]["reason"]
    for sid, client in ((session["id"], api), (other["id"], ApiClient(stack.url, KEY_B))):
        body = client.session(sid).body
        assert body["task_status"] is None and body["generated_examples"] == [], "nothing ran"
