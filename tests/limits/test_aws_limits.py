"""The local stack holds the service to AWS's limits: each function's timeout, the Express child's
5 minutes, 256 KB of state data, 6 MB of Lambda response. Each test checks what a user then sees: the
lead or run recorded failed with a reason a person can read, and the session free again."""

import json
import threading
import time

import pytest
from botocore.exceptions import ClientError

from local.limits import LAMBDA_RESPONSE_LIMIT_BYTES, STATE_PAYLOAD_LIMIT_BYTES
from outreach.errors import WorkspaceBusy
from outreach.logic.runs import UNFINISHED_LEAD
from outreach.logic.workers import FAILURE_MESSAGES
from tests.limits.conftest import TIME_SCALE
from tests.waiting import wait_until


def leads(n, tag):
    return [
        {"first_name": f"{tag}{i}", "company": f"Co {i}", "linkedin_url": f"https://www.linkedin.com/in/{tag}-{i}"}
        for i in range(n)
    ]


def timeout_s(stack, function):
    return stack.functions[function].timeout * TIME_SCALE



def execution_of(stack, run_id):
    sfn = stack.client("stepfunctions")
    for arn in stack.state_machines.values():
        for execution in sfn.list_executions(stateMachineArn=arn)["executions"]:
            if execution["name"] == run_id:
                return execution["executionArn"]
    raise AssertionError(f"no execution named {run_id}")


def test_a_lead_past_its_function_timeout_is_recorded_failed_and_the_others_land(api, stack):
    session = api.session_with_framework()
    sent = leads(3, "slow")
    release = threading.Event()
    stalled = []

    def stall_second_lead(function, event):
        if function == "GenerateLeadFunction" and event.get("index") == 1 and event.get("action") != "record_failure":
            stalled.append(event["run_id"])
            release.wait(timeout_s(stack, function) * 4)  # the handler outlives its timeout

    stack.before_invoke = stall_second_lead
    try:
        dispatch = api.generate(session["id"], sent, isFirstBatch=True).body
        done = api.wait_idle(session["id"], timeout_s=60)
    finally:
        release.set()
    assert stalled == [dispatch["runId"]], "Sandbox.Timedout is recorded, not retried: the lead ran once"
    assert [e["status"] for e in done["generated_examples"]] == ["completed", "failed", "completed"]
    assert done["generated_examples"][1]["error"] == FAILURE_MESSAGES["Sandbox.Timedout"]
    assert "GenerateLeadFunction" in stack.limits.timed_out
    run = api.call("GET", f"/api/runs/{dispatch['runId']}", token=dispatch["publicAccessToken"]).body
    assert run["status"] == "COMPLETED" and run["progress"] == {"total": 3, "completed": 2, "failed": 1}


@pytest.mark.slow
def test_an_express_child_past_five_minutes_ends_as_a_whole_and_its_lead_is_recorded_failed(api, stack):
    """The child keeps failing with WorkspaceBusy, each attempt just under the function's timeout: its retries
    outlast the Express limit. AWS stops the child; its Catch (RecordLeadFailure) never runs; the run's
    aggregate records the lead failed with its reason and frees the session."""
    session = api.session_with_framework()
    sent = leads(3, "express")
    attempt_s = timeout_s(stack, "GenerateLeadFunction") * 2 / 3
    in_flight, calls = [], []

    def busy_first_lead(function, event):
        if function == "GenerateLeadFunction" and event.get("index") == 0:
            calls.append(event.get("action", "generate"))
            if event.get("action") != "record_failure":
                in_flight.append(1)
                try:
                    threading.Event().wait(attempt_s)
                finally:
                    in_flight.pop()
                raise WorkspaceBusy("the workspace stays at its cap")

    stack.before_invoke = busy_first_lead
    started = time.monotonic()
    dispatch = api.generate(session["id"], sent, isFirstBatch=True).body
    done = api.wait_idle(session["id"], timeout_s=120)
    assert time.monotonic() - started >= stack.limits.express_child_s
    wait_until(lambda: not in_flight, 10, "the abandoned child's last attempt")
    assert "record_failure" not in calls, "a child stopped at its limit runs no Catch"
    assert len(calls) < 7, "the child was stopped before its retries ran out"
    assert [e["status"] for e in done["generated_examples"]] == ["failed", "completed", "completed"]
    assert done["generated_examples"][0]["error"] == UNFINISHED_LEAD
    run = api.call("GET", f"/api/runs/{dispatch['runId']}", token=dispatch["publicAccessToken"]).body
    assert run["status"] == "COMPLETED" and run["progress"]["failed"] == 1


def test_a_task_result_over_256_kb_ends_the_execution_past_its_catch_and_the_rule_frees_the_session(
    api, stack, monkeypatch
):
    """States.DataLimitExceeded is terminal on AWS: States.ALL does not catch it. The EventBridge release rule
    (FAILED executions) records the run failed and frees the session."""
    session = api.create_session()
    chat = stack.functions["ChatTurnFunction"]
    monkeypatch.setattr(chat, "handler", lambda event, context: {"padding": "x" * STATE_PAYLOAD_LIMIT_BYTES})
    dispatch = api.turn(session["id"]).body
    done = api.wait_idle(session["id"], timeout_s=30)
    assert done["messages"] == []
    sfn = stack.client("stepfunctions")
    execution = sfn.describe_execution(executionArn=execution_of(stack, dispatch["runId"]))
    assert execution["status"] == "FAILED" and execution["error"] == "States.DataLimitExceeded"
    history = sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
    assert entered == ["ChatTurn"], "the Catch-all did not run"
    run = api.call("GET", f"/api/runs/{dispatch['runId']}", token=dispatch["publicAccessToken"]).body
    assert run["status"] == "FAILED" and run["error"]


def test_an_execution_input_over_256_kb_is_refused(stack):
    sfn = stack.client("stepfunctions")
    arn = stack.state_machines["ChatTurnStateMachine"]
    big = json.dumps({"run_id": "x" * STATE_PAYLOAD_LIMIT_BYTES})
    with pytest.raises(ClientError) as refused:
        sfn.start_execution(stateMachineArn=arn, name="too-big", input=big)
    assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_a_lambda_response_over_6_mb_fails_as_lambda_fails_it(stack, monkeypatch):
    release = stack.functions["ReleaseFunction"]
    monkeypatch.setattr(release, "handler", lambda event, context: {"padding": "x" * LAMBDA_RESPONSE_LIMIT_BYTES})
    answer = stack.client("lambda").invoke(FunctionName="ReleaseFunction", Payload=b"{}")
    assert answer["FunctionError"]
    assert json.loads(answer["Payload"].read())["errorType"] == "Function.ResponseSizeTooLarge"


def test_an_api_answer_over_6_mb_is_a_500_not_a_truncated_body(api, stack, monkeypatch):
    api_function = stack.functions["ApiFunction"]
    huge = {"statusCode": 200, "headers": {}, "body": "x" * LAMBDA_RESPONSE_LIMIT_BYTES}
    monkeypatch.setattr(api_function, "handler", lambda event, context: huge)
    answer = api.call("GET", "/api/campaigns/ai-chat-sessions?campaign_id=c")
    assert answer.status == 500 and answer.body["code"] == "internal_error"


@pytest.mark.slow
def test_a_chat_turn_past_its_function_timeout_fails_its_run_with_a_reason_and_frees_the_session(api, stack):
    session = api.create_session()
    release = threading.Event()

    def stall_the_turn(function, event):
        if function == "ChatTurnFunction":
            release.wait(timeout_s(stack, function) * 3)

    stack.before_invoke = stall_the_turn
    try:
        dispatch = api.turn(session["id"]).body
        done = api.wait_idle(session["id"], timeout_s=120)
    finally:
        release.set()
    assert done["messages"] == [] and done["skeleton"] is None
    run = api.call("GET", f"/api/runs/{dispatch['runId']}", token=dispatch["publicAccessToken"]).body
    assert run["status"] == "FAILED" and run["error"] == FAILURE_MESSAGES["Sandbox.Timedout"]
    assert api.turn(session["id"]).status == 200, "the session is free for the next turn"
    api.wait_idle(session["id"], timeout_s=60)
