"""The release function's two inputs, parsed by Powertools' parser: an EventBridge status change and a Catch-all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from outreach.logic import sessions, workers

from .conftest import WS_A

EVENTS = Path(__file__).resolve().parents[2] / "events"
LEAD = {"first_name": "Ann", "company": "Acme", "linkedin_url": "https://www.linkedin.com/in/ann-release"}


def test_an_execution_status_change_fails_the_run_and_frees_the_session(stack, store, make_session, make_generate_run):
    """The sample event, for this stack's state machine, through the emulated bus: the template's rule picks it."""
    session = make_session()
    run_id = make_generate_run(session, [LEAD])
    event = json.loads((EVENTS / "release_eventbridge.json").read_text())
    event["detail"]["name"] = run_id
    event["detail"]["stateMachineArn"] = stack.state_machines["GenerateExamplesStateMachine"]
    assert stack.watcher.put_event({**event, "detail": {**event["detail"], "status": "SUCCEEDED"}}) == []
    assert sessions.get_session(store, WS_A, session.id)["task_status"] == "generating_examples"
    assert stack.watcher.put_event(event) == ["ReleaseFunction"]
    run = store.get_run(run_id)
    assert run.status == "FAILED" and "time limit" in run.error
    assert sessions.get_session(store, WS_A, session.id)["task_status"] is None


def test_a_catch_all_input_records_the_caught_error(stack, store, make_session, make_generate_run):
    session = make_session()
    run_id = make_generate_run(session, [LEAD])
    assert stack.invoke("ReleaseFunction", {"run_id": run_id, "error": "States.Timeout"})["status"] == "FAILED"
    assert store.get_run(run_id).error == workers.failure_message("States.Timeout")
    assert sessions.get_session(store, WS_A, session.id)["task_status"] is None


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"detail-type": "Step Functions Execution Status Change", "detail": {"status": "FAILED"}},
        {"source": "aws.states", "detail-type": "Something Else", "detail": {"name": "run_x", "status": "FAILED"}},
    ],
)
def test_an_event_of_another_shape_is_refused_and_changes_nothing(stack, store, make_session, make_generate_run, event):
    session = make_session()
    run_id = make_generate_run(session, [LEAD])
    with pytest.raises(ValidationError):
        stack.invoke("ReleaseFunction", event)
    assert store.get_run(run_id).status == "QUEUED"
    assert sessions.get_session(store, WS_A, session.id)["task_status"] == "generating_examples"
