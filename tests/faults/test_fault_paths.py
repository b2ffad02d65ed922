"""Every failure path users depend on: a session is never left claimed, an example never lost or doubled.

Each test injects one fault, checks its own outcome, and hands its session to
the tally, which re-checks every session at the end (test_zz_tally.py).
"""

import json
import threading
import time
from pathlib import Path

import pytest
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from tests.fakes.openai_server import ALWAYS_500, DROP, EMPTY_ONCE, PERMANENT_FAIL, RATE_LIMIT_ONCE, REFUSE, SLOW
from tests.faults.conftest import RUN_TIMEOUT_S

EVENTS = Path(__file__).resolve().parents[2] / "events"


def leads(n, tag="f"):
    return [
        {"first_name": f"{tag}{i}", "company": f"Co {i}", "linkedin_url": f"https://www.linkedin.com/in/{tag}-{i}"}
        for i in range(n)
    ]


def ids(sent):
    return [lead["linkedin_url"] for lead in sent]


def run_of(api, dispatch):
    return api.call("GET", f"/api/runs/{dispatch['runId']}", token=dispatch["publicAccessToken"]).body


def execution_arn(stack, run_id):
    sfn = stack.client("stepfunctions")
    for arn in stack.state_machines.values():
        for execution in sfn.list_executions(stateMachineArn=arn)["executions"]:
            if execution["name"] == run_id:
                return execution["executionArn"]
    raise AssertionError(f"no execution named {run_id}")


# ------------------------------------------------------------ dispatch
def test_start_execution_fails(api, tally, monkeypatch):
    session = api.session_with_framework()
    tally.inject("StartExecution fails")

    def refuse(self, *args, **kwargs):
        raise RuntimeError("Step Functions is down")

    monkeypatch.setattr(StepFunctionsParserBackend, "start_execution", refuse)
    answer = api.generate(session["id"], leads(2))
    tally.intended_500s += 1
    assert answer.status == 500 and answer.body["code"] == "dispatch_failed"
    assert api.session(session["id"]).body["task_status"] is None
    monkeypatch.undo()
    sent = leads(2, "after")
    assert api.generate(session["id"], sent, isFirstBatch=True).status == 200
    tally.watch(api, session["id"], ids(sent))


# ------------------------------------------------------------ executions
def test_an_aborted_execution_frees_the_session_and_fails_the_run(api, stack, fake_openai, tally):
    session = api.session_with_framework()
    fake_openai.latency_s = 3
    dispatch = api.generate(session["id"], leads(2)).body
    tally.inject("execution aborted")
    time.sleep(0.3)
    stack.client("stepfunctions").stop_execution(executionArn=execution_arn(stack, dispatch["runId"]), error="Aborted")
    api.wait_idle(session["id"], timeout_s=20)
    run = run_of(api, dispatch)
    assert run["status"] == "FAILED" and run["error"]
    tally.watch(api, session["id"])


@pytest.mark.slow
def test_a_timed_out_run_frees_its_claim_and_its_late_finisher_changes_nothing_newer(api, stack, tally):
    """Run A's worker outlives the run's time limit. A's claim expires, B claims the session and lands its
    examples; A's execution times out, its release and its late worker must not touch B's claim or results."""
    session = api.session_with_framework()
    release_a = threading.Event()

    stalled = []  # the first run whose worker shows up is A's (its id is not known before it answers)

    def stall_run_a(function, event):
        if function == "GenerateLeadFunction":
            stalled[:] = stalled or [event.get("run_id")]
            if event.get("run_id") == stalled[0]:
                release_a.wait(RUN_TIMEOUT_S + 3)

    stack.before_invoke = stall_run_a
    tally.inject("worker outlives the run time limit")
    run_a = api.generate(session["id"], leads(1, "a")).body
    assert api.generate(session["id"], leads(1, "b")).status == 409
    deadline = time.monotonic() + 5
    while not stalled and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stalled == [run_a["runId"]]

    time.sleep(RUN_TIMEOUT_S + 0.5)  # A's claim has expired: a new run may claim the session
    sent_b = leads(2, "b")
    run_b = api.generate(session["id"], sent_b, isFirstBatch=True)
    assert run_b.status == 200, run_b.body
    done = api.wait_idle(session["id"], timeout_s=20)
    release_a.set()  # A's worker finishes late
    time.sleep(1.5)

    after = api.session(session["id"]).body
    assert [e["lead_id"] for e in after["generated_examples"]] == ids(sent_b)
    assert after["generated_examples"] == done["generated_examples"]
    assert run_of(api, run_a)["status"] == "FAILED"
    assert run_of(api, run_b.body)["status"] == "COMPLETED"
    tally.watch(api, session["id"], ids(sent_b))


def test_the_aggregate_twice_changes_nothing(api, stack, tally):
    session = api.session_with_framework()
    sent = leads(3, "twice")
    dispatch = api.generate(session["id"], sent, isFirstBatch=True).body
    before = api.wait_idle(session["id"])
    tally.inject("aggregate runs twice")
    again = stack.invoke("AggregateFunction", {"run_id": dispatch["runId"]})
    assert again["status"] == "COMPLETED"
    assert api.session(session["id"]).body == before
    tally.watch(api, session["id"], ids(sent))


def test_delete_during_a_run_does_not_bring_the_session_back(api, fake_openai, tally):
    session = api.session_with_framework()
    fake_openai.latency_s = 0.3  # under the suite's 0.5 s LLM timeout: the run is slow, not failing
    dispatch = api.generate(session["id"], leads(3, "del")).body
    tally.inject("DELETE during a run")
    assert api.call("DELETE", f"/api/campaigns/ai-chat-sessions/{session['id']}").status == 200
    deadline = time.monotonic() + 20
    while run_of(api, dispatch)["status"] not in ("COMPLETED", "FAILED") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert run_of(api, dispatch)["status"] == "FAILED"
    assert api.session(session["id"]).status == 404
    listed = api.call("GET", f"/api/campaigns/ai-chat-sessions?campaign_id={session['campaign_id']}").body
    assert session["id"] not in [s["id"] for s in listed["sessions"]]


def test_an_eventbridge_status_change_releases_the_run(api, stack, fake_openai, tally):
    session = api.session_with_framework()
    fake_openai.latency_s = 2
    dispatch = api.generate(session["id"], leads(1, "eb")).body
    tally.inject("EventBridge execution status change")
    event = json.loads((EVENTS / "release_eventbridge.json").read_text())
    event["detail"]["name"] = dispatch["runId"]
    stack.invoke("ReleaseFunction", event)
    assert api.session(session["id"]).body["task_status"] is None
    run = run_of(api, dispatch)
    assert run["status"] == "FAILED" and "time limit" in run["error"]
    tally.watch(api, session["id"])


def test_a_failing_aggregate_keeps_earlier_examples_and_frees_the_session(api, stack, tally):
    session = api.session_with_framework()
    first = leads(2, "keep")
    api.generate(session["id"], first, isFirstBatch=True)
    api.wait_idle(session["id"])

    def crash(function, event):
        if function == "AggregateFunction":
            raise RuntimeError("aggregate bug")

    stack.before_invoke = crash
    tally.inject("aggregate raises")
    dispatch = api.generate(session["id"], leads(2, "lost"), isFirstBatch=True).body
    done = api.wait_idle(session["id"], timeout_s=30)
    assert [e["lead_id"] for e in done["generated_examples"]] == ids(first)
    assert run_of(api, dispatch)["status"] == "FAILED"
    tally.watch(api, session["id"], ids(first))


# ------------------------------------------------------------ the LLM
@pytest.mark.parametrize(
    ("marker", "outcome"),
    [
        (RATE_LIMIT_ONCE, "completed"),
        (EMPTY_ONCE, "completed"),
        (PERMANENT_FAIL, "failed"),
        (REFUSE, "failed"),
        (ALWAYS_500, "failed"),
        (DROP, "failed"),
        (SLOW, "failed"),
    ],
)
def test_llm_faults_fail_only_their_lead(api, fake_openai, tally, marker, outcome):
    session = api.session_with_framework()
    sent = leads(3, marker.lower())
    sent[1]["headline"] = marker
    tally.inject(f"LLM {marker}")
    dispatch = api.generate(session["id"], sent, isFirstBatch=True).body
    done = api.wait_idle(session["id"], timeout_s=60)
    assert [e["status"] for e in done["generated_examples"]] == ["completed", outcome, "completed"]
    if outcome == "failed":
        assert done["generated_examples"][1]["error"]
    calls = [r for r in fake_openai.requests if marker in json.dumps(r["body"])]
    if marker == PERMANENT_FAIL:
        assert len(calls) == 1, "a 4xx other than 429 is not retried"
    elif marker in (ALWAYS_500, DROP):
        assert len(calls) >= 4, "transient errors are retried by the SDK and then by the state machine"
    assert run_of(api, dispatch)["progress"]["failed"] == (outcome == "failed")
    tally.watch(api, session["id"], ids(sent))


def test_a_worker_that_raises_fails_only_its_lead(api, stack, tally):
    session = api.session_with_framework()
    sent = leads(3, "raise")

    def crash(function, event):
        if function == "GenerateLeadFunction" and event.get("index") == 0 and event.get("action") != "record_failure":
            raise RuntimeError("worker bug")

    stack.before_invoke = crash
    tally.inject("worker raises")
    api.generate(session["id"], sent, isFirstBatch=True)
    done = api.wait_idle(session["id"], timeout_s=30)
    assert [e["status"] for e in done["generated_examples"]] == ["failed", "completed", "completed"]
    tally.watch(api, session["id"], ids(sent))


def test_a_chat_turn_whose_llm_fails_frees_the_session(api, stack, tally):
    session = api.create_session()

    def crash(function, event):
        if function == "ChatTurnFunction":
            raise RuntimeError("chat worker bug")

    stack.before_invoke = crash
    tally.inject("chat turn worker raises")
    dispatch = api.turn(session["id"]).body
    done = api.wait_idle(session["id"], timeout_s=30)
    assert done["messages"] == [] and done["skeleton"] is None
    assert run_of(api, dispatch)["status"] == "FAILED"
    tally.watch(api, session["id"])


# ------------------------------------------------------------ rate limits
def test_a_workspace_never_has_more_llm_calls_in_flight_than_its_cap(api, fake_openai, tally):
    from tests.faults.conftest import WORKSPACE_LLM_CAP

    first, second = api.session_with_framework(), api.session_with_framework()
    fake_openai.reset()
    fake_openai.latency_s = 0.3
    tally.inject("two runs of one workspace over its LLM cap")
    batch_one, batch_two = leads(6, "capa"), leads(6, "capb")
    assert api.generate(first["id"], batch_one, isFirstBatch=True).status == 200
    assert api.generate(second["id"], batch_two, isFirstBatch=True).status == 200
    done = [api.wait_idle(s["id"], timeout_s=60) for s in (first, second)]
    assert all(e["status"] == "completed" for d in done for e in d["generated_examples"])
    assert fake_openai.max_in_flight <= WORKSPACE_LLM_CAP
    assert fake_openai.max_in_flight >= 2, "the cap still lets calls overlap"
    tally.watch(api, first["id"], ids(batch_one))
    tally.watch(api, second["id"], ids(batch_two))
