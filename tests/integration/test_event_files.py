"""Every file in events/ runs through its function (events/functions.json), the way `make invoke` runs it.

The files carry fixed ids (a session, a run). The session and the run are made
with those ids through the real dispatch code, so each API event must reach its
route and each worker event must find its run: a file that drifts from the
handlers or the ids fails here.
"""

from __future__ import annotations

import json

import pytest

from local.invoke import EVENTS, MAPPING, function_for, invoke_file
from local.stack import LocalStack
from outreach.models.items import SessionDetail
from tests.waiting import wait_until

SESSION_ID = "3f9b2c1e-8a4d-4e2f-9b1c-7d6e5f4a3b21"
RUN_ID = "run_0123456789abcdef01234567"
WORKSPACE = "ws_demo"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    local = LocalStack(
        state_dir=tmp_path_factory.mktemp("state"),
        env={"LOCAL_API_KEYS": f"{WORKSPACE}:local-dev-key", "LLM_PROVIDER": "offline"},
    ).start()
    yield local
    local.stop()


def _store(stack):
    from outreach import runtime
    from outreach.config import function_environment

    with function_environment(stack.functions["ApiFunction"].environment):
        runtime.reset()
        return runtime.store()


def _wait_idle(stack, timeout_s: float = 60) -> SessionDetail:
    store = _store(stack)

    def idle():
        session = store.read_session(WORKSPACE, SESSION_ID)
        return session if session is not None and not session.task_status else None

    return wait_until(idle, timeout_s, "the session to be idle")


def _api(stack, name: str, expected: int, **replace) -> dict:
    event = json.loads((EVENTS / name).read_text())
    for key, value in replace.items():
        event["headers"][key] = value
    result = stack.invoke(function_for(EVENTS / name), event)
    assert result["statusCode"] == expected, (name, result)
    return json.loads(result["body"])


def test_every_event_file_is_mapped_to_a_function_of_the_template(stack):
    mapping = json.loads(MAPPING.read_text())
    files = sorted(p.name for p in EVENTS.glob("*.json"))
    assert sorted(mapping) == files
    for name, function in mapping.items():
        assert function is None or function in stack.functions, name


def test_every_event_file_runs_through_its_function(stack, monkeypatch):
    from outreach.logic import auth, runs, sessions

    ran: set[str] = set()

    def api(name, expected, **replace):
        ran.add(name)
        return _api(stack, name, expected, **replace)

    monkeypatch.setattr(sessions, "new_session_id", lambda: SESSION_ID)
    assert api("api_create_session.json", 201)["id"] == SESSION_ID
    assert api("api_get_session.json", 200)["id"] == SESSION_ID
    assert [s["id"] for s in api("api_list_sessions.json", 200)["sessions"]] == [SESSION_ID]
    assert api("api_update_session.json", 200)["id"] == SESSION_ID

    api("api_chat_turn.json", 200)
    assert _wait_idle(stack).skeleton, "the chat turn gave the session a framework"
    new_run_id = runs.new_run_id
    monkeypatch.setattr(runs, "new_run_id", lambda: RUN_ID)
    assert api("api_generate_examples.json", 200)["runId"] == RUN_ID
    monkeypatch.setattr(runs, "new_run_id", new_run_id)
    examples = _wait_idle(stack).generated_examples
    assert [e.status for e in examples] == ["completed", "completed"]

    with _env(stack):
        token = auth.issue_run_token(auth.service_secret(runs.Settings.load()), RUN_ID, 60)
    assert api("api_get_run.json", 200, authorization=f"Bearer {token}")["status"] == "COMPLETED"
    canceled = api("api_cancel_run.json", 409)  # the sample's run has finished: nothing to cancel
    assert (canceled["code"], canceled["status"]) == ("run_finished", "COMPLETED")

    # The workers' events find the finished run and change nothing: every step is idempotent.
    for name in ("generate_lead.json", "generate_lead_record_failure.json", "aggregate.json", "chat_turn.json",
                 "release.json", "release_eventbridge.json"):
        ran.add(name)
        out = invoke_file(stack, EVENTS / name)
        assert out["status"] not in ("missing", "skipped") or name.startswith("generate_lead"), (name, out)
        assert out.get("run_id", RUN_ID) == RUN_ID, (name, out)
    assert [e.status for e in _wait_idle(stack).generated_examples] == ["completed", "completed"]

    # The trigger's SQS batch (one "Generate Examples Requested" event) tops the session up by one lead.
    ran.add("trigger_sqs.json")
    assert invoke_file(stack, EVENTS / "trigger_sqs.json") == {"batchItemFailures": []}
    examples = wait_until(lambda: len(_wait_idle(stack).generated_examples) == 3 and _wait_idle(stack), 60,
                          "the triggered run's three examples")
    assert [e.lead.get("first_name") for e in examples.generated_examples] == ["Priya", "Marcus", "Nadia"]

    # The webhook queue's batch finds the run; it asked for no webhook, so nothing is posted and nothing retried.
    ran.add("webhook_delivery_sqs.json")
    assert invoke_file(stack, EVENTS / "webhook_delivery_sqs.json") == {"batchItemFailures": []}

    assert api("api_delete_session.json", 200) == {"success": True}
    mapping = json.loads(MAPPING.read_text())
    assert ran == {name for name, function in mapping.items() if function}, "an event file no test runs"




def _env(stack):
    from outreach.config import function_environment

    return function_environment(stack.functions["ApiFunction"].environment)
