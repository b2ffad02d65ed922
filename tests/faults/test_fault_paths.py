"""Every failure path users depend on: a session is never left claimed, an example never lost or doubled.

Each test injects one fault, asserts that the stack or the fake saw it happen (and tells the tally), checks
its own outcome, and hands its session to the tally, which checks every session again before the suite's stack
stops (tests/faults/conftest.py).
"""

import threading

import pytest
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from local.eventbridge import status_change_event
from tests.fakes.openai_server import ALWAYS_500, DROP, EMPTY_ONCE, PERMANENT_FAIL, RATE_LIMIT_ONCE, REFUSE, SLOW
from tests.faults.conftest import RUN_TIMEOUT_S, WORKSPACE_LLM_CAP
from tests.faults.tally import START_EXECUTION_FAILS
from tests.waiting import wait_until

FINAL = ("COMPLETED", "FAILED")


def leads(n, tag="f"):
    return [
        {"first_name": f"{tag}{i}", "company": f"Co {i}", "linkedin_url": f"https://www.linkedin.com/in/{tag}-{i}"}
        for i in range(n)
    ]


def ids(sent):
    return [lead["linkedin_url"] for lead in sent]


def run_of(api, dispatch):
    return api.call("GET", f"/api/runs/{dispatch['runId']}", token=dispatch["publicAccessToken"]).body


def execution_of(stack, run_id):
    sfn = stack.client("stepfunctions")
    for arn in stack.state_machines.values():
        for execution in sfn.list_executions(stateMachineArn=arn)["executions"]:
            if execution["name"] == run_id:
                return sfn.describe_execution(executionArn=execution["executionArn"])
    raise AssertionError(f"no execution named {run_id}")


@pytest.fixture
def patient_llm(stack, monkeypatch):
    """The lead worker waits 30 s for the LLM (not the suite's 0.5 s), for tests that hold its calls at a gate."""
    monkeypatch.setitem(stack.functions["GenerateLeadFunction"].environment, "LLM_TIMEOUT_S", "30")


def invocations(stack, counts):
    """Count the stack's Lambda invokes by (function, run id) into ``counts``."""

    def count(function, event):
        counts[(function, (event or {}).get("run_id"))] = counts.get((function, (event or {}).get("run_id")), 0) + 1

    return count


# ------------------------------------------------------------ dispatch
def test_start_execution_fails(api, tally, monkeypatch):
    session = api.session_with_framework()
    refused = []

    def refuse(self, *args, **kwargs):
        refused.append(1)
        raise RuntimeError("Step Functions is down")

    monkeypatch.setattr(StepFunctionsParserBackend, "start_execution", refuse)
    answer = api.generate(session["id"], leads(2))
    assert refused, "StartExecution was not called"
    tally.observe(START_EXECUTION_FAILS, len(refused))
    assert answer.status == 500 and answer.body["code"] == "dispatch_failed"
    assert api.session(session["id"]).body["task_status"] is None
    monkeypatch.undo()
    sent = leads(2, "after")
    assert api.generate(session["id"], sent, isFirstBatch=True).status == 200
    tally.watch(api, session["id"], ids(sent))


# ------------------------------------------------------------ executions
def test_an_aborted_execution_frees_the_session_and_fails_the_run(api, stack, fake_openai, tally, patient_llm):
    session = api.session_with_framework()
    sent = leads(2, "abort")
    # The leads' calls are held at the fake (a gate they never fill) and answer after its 3 s: simulated latency,
    # during which the execution is stopped. moto ends a stopped execution when its running step returns.
    gate = fake_openai.hold_email_requests(len(sent) + 1, timeout_s=3, marker="/in/abort-")
    dispatch = api.generate(session["id"], sent).body
    wait_until(lambda: gate.arrived >= len(sent), 20, "both leads to be calling the LLM")
    sfn = stack.client("stepfunctions")
    sfn.stop_execution(executionArn=execution_of(stack, dispatch["runId"])["executionArn"], error="Aborted")
    wait_until(lambda: execution_of(stack, dispatch["runId"])["status"] == "ABORTED", 60, "the execution to stop")
    tally.observe("execution aborted")
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
    late_finish = []  # A's worker, once it has returned: (its run id, whether A's run had ended by then)
    worker = stack.functions["GenerateLeadFunction"]
    handler = worker.handler

    def stall_run_a(function, event):
        if function == "GenerateLeadFunction":
            stalled[:] = stalled or [event.get("run_id")]
            if event.get("run_id") == stalled[0]:
                release_a.wait(RUN_TIMEOUT_S + 30)

    def watched_handler(event, context):
        try:
            return handler(event, context)
        finally:
            if stalled and event.get("run_id") == stalled[0]:
                late_finish.append(run_of(api, run_a)["status"] in FINAL)

    stack.before_invoke = stall_run_a
    worker.handler = watched_handler
    try:
        run_a = api.generate(session["id"], leads(1, "a")).body
        assert api.generate(session["id"], leads(1, "b")).status == 409
        wait_until(lambda: stalled, 10, "run A's worker to start")
        assert stalled == [run_a["runId"]]

        # A's claim expires with its time limit: the session shows free and a new run may claim it.
        api.wait_idle(session["id"], timeout_s=RUN_TIMEOUT_S + 10)
        sent_b = leads(2, "b")
        run_b = api.generate(session["id"], sent_b, isFirstBatch=True)
        assert run_b.status == 200, run_b.body
        done = api.wait_idle(session["id"], timeout_s=20)
        wait_until(lambda: run_of(api, run_a)["status"] == "FAILED", 20, "run A to be failed by its time limit")
        release_a.set()  # A's worker finishes late
        wait_until(lambda: late_finish, 20, "run A's late worker to return")
    finally:
        worker.handler = handler
    assert late_finish == [True], "A's worker returned after its run had ended"
    tally.observe("worker outlives the run time limit")

    after = api.session(session["id"]).body
    assert [e["lead_id"] for e in after["generated_examples"]] == ids(sent_b)
    assert after["generated_examples"] == done["generated_examples"]
    assert run_of(api, run_a)["status"] == "FAILED"
    assert run_of(api, run_b.body)["status"] == "COMPLETED"
    tally.watch(api, session["id"], ids(sent_b))


def test_the_aggregate_twice_changes_nothing(api, stack, tally):
    session = api.session_with_framework()
    sent = leads(3, "twice")
    counts = {}
    stack.before_invoke = invocations(stack, counts)
    dispatch = api.generate(session["id"], sent, isFirstBatch=True).body
    before = api.wait_idle(session["id"])
    again = stack.invoke("AggregateFunction", {"run_id": dispatch["runId"]})
    assert counts[("AggregateFunction", dispatch["runId"])] == 2
    tally.observe("aggregate runs twice")
    assert again["status"] == "COMPLETED"
    assert api.session(session["id"]).body == before
    tally.watch(api, session["id"], ids(sent))


def test_delete_during_a_run_does_not_bring_the_session_back(api, fake_openai, tally, patient_llm):
    session = api.session_with_framework()
    sent = leads(3, "del")
    gate = fake_openai.hold_email_requests(len(sent), timeout_s=20, marker="/in/del-")  # they wait during the DELETE
    dispatch = api.generate(session["id"], sent).body
    wait_until(lambda: gate.arrived >= len(sent), 20, "the leads to be calling the LLM")
    assert api.call("DELETE", f"/api/campaigns/ai-chat-sessions/{session['id']}").status == 200
    assert run_of(api, dispatch)["status"] not in FINAL
    tally.observe("DELETE during a run")
    gate.open.set()
    wait_until(lambda: run_of(api, dispatch)["status"] in FINAL, 20, "the run to end")
    assert run_of(api, dispatch)["status"] == "FAILED"
    assert api.session(session["id"]).status == 404
    listed = api.call("GET", f"/api/campaigns/ai-chat-sessions?campaign_id={session['campaign_id']}").body
    assert session["id"] not in [s["id"] for s in listed["sessions"]]


def test_an_eventbridge_status_change_releases_the_run(api, stack, fake_openai, tally, patient_llm):
    """The rule's own event (an execution's status change, as EventBridge sends it) through the emulated bus."""
    session = api.session_with_framework()
    gate = fake_openai.hold_email_requests(2, timeout_s=20, marker="/in/eb-")  # one lead never fills it: it waits
    dispatch = api.generate(session["id"], leads(1, "eb")).body
    wait_until(lambda: gate.arrived, 20, "the lead to be calling the LLM")
    execution = execution_of(stack, dispatch["runId"])
    assert stack.watcher.put_event(status_change_event(execution, "SUCCEEDED")) == [], "the rule ignores successes"
    targets = stack.watcher.put_event(status_change_event(execution, "TIMED_OUT"))
    assert targets == ["ReleaseFunction"]
    tally.observe("EventBridge execution status change")
    gate.open.set()
    assert api.session(session["id"]).body["task_status"] is None
    run = run_of(api, dispatch)
    assert run["status"] == "FAILED" and "time limit" in run["error"]
    tally.watch(api, session["id"])


def test_a_failing_aggregate_keeps_earlier_examples_and_frees_the_session(api, stack, tally):
    session = api.session_with_framework()
    first = leads(2, "keep")
    api.generate(session["id"], first, isFirstBatch=True)
    api.wait_idle(session["id"])

    crashed = []

    def crash(function, event):
        if function == "AggregateFunction":
            crashed.append(event.get("run_id"))
            raise RuntimeError("aggregate bug")

    stack.before_invoke = crash
    dispatch = api.generate(session["id"], leads(2, "lost"), isFirstBatch=True).body
    done = api.wait_idle(session["id"], timeout_s=30)
    assert dispatch["runId"] in crashed
    tally.observe("aggregate raises", len(crashed))
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
    dispatch = api.generate(session["id"], sent, isFirstBatch=True).body
    done = api.wait_idle(session["id"], timeout_s=60)
    assert [e["status"] for e in done["generated_examples"]] == ["completed", outcome, "completed"]
    if outcome == "failed":
        assert done["generated_examples"][1]["error"]
    calls = fake_openai.requests_with(sent[1]["linkedin_url"])
    served = [r for r in calls if r.get("fault") == marker]
    assert served, f"the fake never served {marker}"
    tally.observe(f"LLM {marker}", len(served))
    if marker == PERMANENT_FAIL:
        assert len(calls) == 1, "a 4xx other than 429 is not retried"
    elif marker in (ALWAYS_500, DROP):
        assert len(calls) >= 4, "transient errors are retried by the SDK and then by the state machine"
    assert run_of(api, dispatch)["progress"]["failed"] == (outcome == "failed")
    tally.watch(api, session["id"], ids(sent))


def test_a_worker_that_raises_fails_only_its_lead(api, stack, tally):
    session = api.session_with_framework()
    sent = leads(3, "raise")

    crashed = []

    def crash(function, event):
        if function == "GenerateLeadFunction" and event.get("index") == 0 and event.get("action") != "record_failure":
            crashed.append(event.get("run_id"))
            raise RuntimeError("worker bug")

    stack.before_invoke = crash
    dispatch = api.generate(session["id"], sent, isFirstBatch=True).body
    done = api.wait_idle(session["id"], timeout_s=30)
    assert dispatch["runId"] in crashed
    tally.observe("worker raises", len(crashed))
    assert [e["status"] for e in done["generated_examples"]] == ["failed", "completed", "completed"]
    tally.watch(api, session["id"], ids(sent))


def test_a_chat_turn_whose_llm_fails_frees_the_session(api, stack, tally):
    session = api.create_session()

    crashed = []

    def crash(function, event):
        if function == "ChatTurnFunction":
            crashed.append(event.get("run_id"))
            raise RuntimeError("chat worker bug")

    stack.before_invoke = crash
    dispatch = api.turn(session["id"]).body
    done = api.wait_idle(session["id"], timeout_s=30)
    assert dispatch["runId"] in crashed
    tally.observe("chat turn worker raises", len(crashed))
    assert done["messages"] == [] and done["skeleton"] is None
    assert run_of(api, dispatch)["status"] == "FAILED"
    tally.watch(api, session["id"])


# ------------------------------------------------------------ rate limits
def test_a_workspace_never_has_more_llm_calls_in_flight_than_its_cap(api, stack, fake_openai, tally, patient_llm):
    first, second = api.session_with_framework(), api.session_with_framework()
    fake_openai.reset()
    counts = {}
    stack.before_invoke = invocations(stack, counts)
    # The first calls are held until the cap's worth are in flight together: the cap lets calls overlap up to it.
    gate = fake_openai.hold_email_requests(WORKSPACE_LLM_CAP, timeout_s=30, marker="/in/cap")
    batch_one, batch_two = leads(6, "capa"), leads(6, "capb")
    one = api.generate(first["id"], batch_one, isFirstBatch=True)
    two = api.generate(second["id"], batch_two, isFirstBatch=True)
    assert one.status == two.status == 200
    done = [api.wait_idle(s["id"], timeout_s=60) for s in (first, second)]
    assert all(e["status"] == "completed" for d in done for e in d["generated_examples"])
    assert gate.filled, f"only {gate.most_waiting} calls were ever in flight together"
    assert fake_openai.max_in_flight <= WORKSPACE_LLM_CAP
    # 12 leads wanted the LLM at once: those over the cap were turned away and retried by the state machine.
    turned_away = sum(counts.get(("GenerateLeadFunction", d.body["runId"]), 0) for d in (one, two)) - 12
    assert turned_away > 0
    tally.observe("a lead over the workspace's LLM cap", turned_away)
    tally.watch(api, first["id"], ids(batch_one))
    tally.watch(api, second["id"], ids(batch_two))
