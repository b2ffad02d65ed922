"""Run control through the HTTP front: idempotency keys on dispatch, cancel, and live progress (the long poll)."""

from __future__ import annotations

import contextlib
import threading
import time

from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from tests.client import SESSIONS
from tests.e2e.test_flow import leads
from tests.waiting import wait_until


# ---------------------------------------------------------------- helpers
def dispatch(api, session_id, sent, key=None, **extra):
    headers = {"Idempotency-Key": key} if key else None
    return api.call("POST", f"{SESSIONS}/{session_id}/generate-examples", {"leads": sent, **extra}, headers=headers)


def replayed(answer) -> bool:
    """HTTP header names are case-insensitive."""
    return {k.lower(): v for k, v in answer.headers.items()}.get("idempotent-replayed") == "true"


def read_run(api, answer, **query):
    suffix = "&".join(f"{k}={v}" for k, v in query.items())
    return api.call("GET", f"/api/runs/{answer['runId']}{'?' + suffix if suffix else ''}",
                    token=answer["publicAccessToken"])


def runs_of(stack, session_id, kind="generate_examples"):
    pages = stack.client("dynamodb").get_paginator("scan").paginate(  # a Scan page stops at 1 MB: read them all
        TableName=stack.table_name,
        FilterExpression="sk = :run AND session_id = :sid AND kind = :kind",
        ExpressionAttributeValues={":run": {"S": "RUN"}, ":sid": {"S": session_id}, ":kind": {"S": kind}},
    )
    return {item["id"]["S"]: item["status"]["S"] for page in pages for item in page["Items"]}



@contextlib.contextmanager
def finished_invokes(stack, logical_id):
    """Record every invoke of a function once it returned (workers run on the engine's threads)."""
    fn = stack.functions[logical_id]
    original, done = fn.handler, []

    def recording(event, context):
        try:
            return original(event, context)
        finally:
            done.append(event)

    fn.handler = recording
    try:
        yield done
    finally:
        fn.handler = original


def cancel(api, run_id, key=None):
    return api.call("POST", f"/api/runs/{run_id}/cancel", token=key)


# ------------------------------------------------------------ idempotency
def test_twenty_concurrent_dispatches_with_one_key_start_exactly_one_run(api, stack, fake_openai):
    session = api.session_with_framework()
    fake_openai.latency_s = 0.5  # the run is still going while the twenty arrive
    sent, answers, barrier = leads(2, "idem"), [], threading.Barrier(20)

    def send():
        barrier.wait()
        answers.append(dispatch(api, session["id"], sent, key="order-20-way"))

    threads = [threading.Thread(target=send) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(answers) == 20
    run_ids = {a.body.get("runId") for a in answers}
    assert len(run_ids) == 1, [a.body for a in answers]
    for a in answers:
        assert a.status == 200 or (a.status == 409 and a.body["code"] == "idempotency_key_in_progress"), a.body
    assert sum(not replayed(a) for a in answers if a.status == 200) == 1
    (run_id,) = run_ids
    assert list(runs_of(stack, session["id"])) == [run_id]
    tokens = {a.body["publicAccessToken"] for a in answers if a.status == 200}
    assert len(tokens) == sum(a.status == 200 for a in answers)  # each answer has its own fresh token
    for token in tokens:
        assert read_run(api, {"runId": run_id, "publicAccessToken": token}).status == 200

    done = api.wait_idle(session["id"])
    assert [e["run_id"] for e in done["generated_examples"]][-2:] == [run_id, run_id]
    assert len(fake_openai.email_requests()) == 2  # one run, one LLM call a lead


def test_a_retry_with_the_same_key_answers_the_first_run_claims_nothing_and_starts_nothing(api, stack):
    session = api.session_with_framework()
    sent = leads(2, "retry")
    first = dispatch(api, session["id"], sent, key="retry-1", isFirstBatch=True)
    assert first.status == 200 and not replayed(first)
    before = api.wait_idle(session["id"])

    again = dispatch(api, session["id"], sent, key="retry-1", isFirstBatch=True)
    assert again.status == 200, again.body
    assert replayed(again)
    assert again.body["runId"] == first.body["runId"]
    assert again.body["publicAccessToken"] != first.body["publicAccessToken"]
    assert read_run(api, again.body).body["status"] == "COMPLETED"
    after = api.session(session["id"]).body
    assert after == before  # no claim, no new examples
    assert list(runs_of(stack, session["id"])) == [first.body["runId"]]


def test_a_chat_turn_takes_an_idempotency_key_too(api, stack):
    session = api.create_session()
    path = f"{SESSIONS}/{session['id']}/turn"
    first = api.call("POST", path, {"message": "We sell notes."}, headers={"Idempotency-Key": "turn-1"})
    assert first.status == 200
    done = api.wait_idle(session["id"])
    again = api.call("POST", path, {"message": "We sell notes."}, headers={"Idempotency-Key": "turn-1"})
    assert again.status == 200 and again.body["runId"] == first.body["runId"]
    assert api.session(session["id"]).body["messages"] == done["messages"]
    assert len(done["messages"]) == 2


def test_the_same_key_with_another_body_is_422_and_changes_nothing(api, stack):
    session = api.session_with_framework()
    first = dispatch(api, session["id"], leads(1, "body-a"), key="reused")
    assert first.status == 200
    before = api.wait_idle(session["id"])
    other = dispatch(api, session["id"], leads(1, "body-b"), key="reused")
    assert other.status == 422
    assert other.body["code"] == "idempotency_key_reused" and other.body["error"]
    assert api.session(session["id"]).body == before
    assert list(runs_of(stack, session["id"])) == [first.body["runId"]]


def test_keys_are_per_workspace_session_and_route(api, api_b, stack):
    mine, theirs = api.session_with_framework(), api_b.session_with_framework()
    other_session = api.session_with_framework()
    sent = leads(1, "scope")
    a = dispatch(api, mine["id"], sent, key="shared-key")
    b = dispatch(api_b, theirs["id"], sent, key="shared-key")
    c = dispatch(api, other_session["id"], sent, key="shared-key")
    assert [x.status for x in (a, b, c)] == [200, 200, 200]
    assert len({a.body["runId"], b.body["runId"], c.body["runId"]}) == 3
    for client, session in ((api, mine), (api_b, theirs), (api, other_session)):
        client.wait_idle(session["id"])
    turn = api.call("POST", f"{SESSIONS}/{mine['id']}/turn", {"message": "hi"},
                    headers={"Idempotency-Key": "shared-key"})
    assert turn.status == 200 and turn.body["runId"] != a.body["runId"]
    api.wait_idle(mine["id"])


def test_a_retry_while_the_first_is_still_being_recorded_is_409_naming_its_run(api, stack, monkeypatch):
    session = api.session_with_framework()
    sent, entered, gate = leads(1, "slow"), threading.Event(), threading.Event()
    start_execution = StepFunctionsParserBackend.start_execution

    def slow_start(self, *args, **kwargs):  # the first dispatch has claimed and recorded its run, not started it
        entered.set()
        gate.wait(30)
        return start_execution(self, *args, **kwargs)

    monkeypatch.setattr(StepFunctionsParserBackend, "start_execution", slow_start)
    first = []
    thread = threading.Thread(target=lambda: first.append(dispatch(api, session["id"], sent, key="slow-first")))
    thread.start()
    try:
        wait_until(entered.is_set, what="the first dispatch to reach StartExecution")
        second = dispatch(api, session["id"], sent, key="slow-first")
    finally:
        gate.set()
        thread.join()
    monkeypatch.undo()
    assert second.status == 409, second.body
    assert second.body["code"] == "idempotency_key_in_progress"
    assert first[0].status == 200 and second.body["runId"] == first[0].body["runId"]
    third = dispatch(api, session["id"], sent, key="slow-first")
    assert third.status == 200 and third.body["runId"] == first[0].body["runId"] and replayed(third)
    assert list(runs_of(stack, session["id"])) == [first[0].body["runId"]]
    api.wait_idle(session["id"])


def test_a_failed_dispatch_frees_its_key(api, stack, monkeypatch):
    session = api.session_with_framework()
    sent = leads(2, "freed")

    def refuse(self, *args, **kwargs):
        raise RuntimeError("Step Functions is down")

    monkeypatch.setattr(StepFunctionsParserBackend, "start_execution", refuse)
    failed = dispatch(api, session["id"], sent, key="after-500")
    assert failed.status == 500 and failed.body["code"] == "dispatch_failed"
    monkeypatch.undo()

    retry = dispatch(api, session["id"], sent, key="after-500")
    assert retry.status == 200, retry.body
    assert not replayed(retry)
    statuses = runs_of(stack, session["id"])
    assert len(statuses) == 2 and statuses[retry.body["runId"]] != "FAILED"
    assert sorted(statuses.values()).count("FAILED") == 1
    assert len(api.wait_idle(session["id"])["generated_examples"]) == 2


def test_a_key_whose_dispatch_found_the_session_busy_is_free_afterwards(api, stack, fake_openai):
    session = api.session_with_framework()
    fake_openai.latency_s = 0.5
    running = dispatch(api, session["id"], leads(1, "busy-a"))
    assert running.status == 200
    sent = leads(1, "busy-b")
    busy = dispatch(api, session["id"], sent, key="after-409")
    assert busy.status == 409 and busy.body["code"] == "session_busy"
    api.wait_idle(session["id"])
    later = dispatch(api, session["id"], sent, key="after-409")
    assert later.status == 200 and not replayed(later)
    assert later.body["runId"] != running.body["runId"]
    api.wait_idle(session["id"])


def test_a_key_that_is_not_printable_ascii_or_too_long_is_422(api):
    session = api.session_with_framework()
    for key in ("x" * 256, "has space", "a,b"):
        answer = dispatch(api, session["id"], leads(1), key=key)
        assert answer.status == 422 and answer.body["code"] == "validation_error", answer.body
    assert api.session(session["id"]).body["task_status"] is None


# ----------------------------------------------------------------- cancel
def test_cancel_mid_run_frees_the_session_at_once_and_a_late_worker_changes_nothing(api, stack, fake_openai):
    session = api.session_with_framework()
    first = leads(2, "kept")
    assert dispatch(api, session["id"], first, isFirstBatch=True).status == 200
    before = api.wait_idle(session["id"])
    assert len(before["generated_examples"]) == 2

    # Leads 0 and 1 are held in their LLM call (the fake's gate) when the cancel comes.
    in_llm = fake_openai.hold_email_requests(count=3, timeout_s=60, marker="dropped")
    held, release = [], threading.Event()

    def hold_lead_two(function, event):
        if function == "GenerateLeadFunction" and event.get("index") == 2:
            held.append(event["run_id"])
            release.wait(20)  # a late worker: it starts only after the cancel

    stack.before_invoke = hold_lead_two
    with finished_invokes(stack, "GenerateLeadFunction") as lead_workers, \
            finished_invokes(stack, "ReleaseFunction") as releases:
        run = dispatch(api, session["id"], leads(3, "dropped"), isFirstBatch=True)
        assert run.status == 200
        run_id = run.body["runId"]
        wait_until(lambda: held == [run_id] and in_llm.arrived == 2, what="two LLM calls in flight")

        canceled = cancel(api, run_id)
        assert canceled.status == 200, canceled.body
        assert canceled.body["id"] == run_id and canceled.body["status"] == "CANCELED"
        assert canceled.body["finished_at"] and canceled.body["examples"] == []
        free = api.session(session["id"]).body
        assert free["task_status"] is None  # released at once, not when the run winds down
        assert free["generated_examples"] == before["generated_examples"]

        in_llm.open.set()
        release.set()
        # Every worker of the run has returned (the two in their LLM call and the held one), and the release
        # rule has seen the ABORTED execution.
        wait_until(lambda: sum(e.get("run_id") == run_id for e in lead_workers) == 3, what="the late workers")
        wait_until(lambda: any(e.get("detail", {}).get("name") == run_id for e in releases), what="the release rule")
        assert any(e["detail"]["status"] == "ABORTED" for e in releases if e["detail"]["name"] == run_id)

    after = read_run(api, run.body).body
    assert after["status"] == "CANCELED" and after["version"] == canceled.body["version"]
    assert after["progress"] == {"total": 3, "completed": 0, "failed": 0} and after["examples"] == []
    assert api.session(session["id"]).body == free
    assert runs_of(stack, session["id"])[run_id] == "CANCELED"
    # The session takes a new task at once.
    again = dispatch(api, session["id"], leads(1, "next"))
    assert again.status == 200
    api.wait_idle(session["id"])


def test_cancel_a_chat_turn_keeps_the_conversation(api, stack, fake_openai):
    session = api.session_with_framework()
    fake_openai.latency_s = 1.0
    calls = len(fake_openai.requests)
    with finished_invokes(stack, "ChatTurnFunction") as turns:
        turn = api.turn(session["id"], "Make it shorter.")
        assert turn.status == 200
        wait_until(lambda: len(fake_openai.requests) > calls, what="the chat turn's LLM call")
        canceled = cancel(api, turn.body["runId"])
        assert canceled.status == 200 and canceled.body["status"] == "CANCELED"
        assert canceled.body["progress"] == {"total": 1, "completed": 0, "failed": 0}
        assert api.session(session["id"]).body["task_status"] is None
        # The turn's worker returns after the cancel; its answer must not reach the session.
        wait_until(lambda: any(e.get("run_id") == turn.body["runId"] for e in turns), what="the chat turn's worker")
    after = api.session(session["id"]).body
    assert after["messages"] == session["messages"] and after["skeleton"] == session["skeleton"]
    assert read_run(api, turn.body).body["status"] == "CANCELED"


def test_cancel_of_a_finished_run_is_409_and_changes_nothing(api):
    session = api.session_with_framework()
    run = dispatch(api, session["id"], leads(1, "done")).body
    before = api.wait_idle(session["id"])
    answer = cancel(api, run["runId"])
    assert answer.status == 409
    assert answer.body["code"] == "run_finished" and answer.body["status"] == "COMPLETED"
    assert read_run(api, run).body["status"] == "COMPLETED"
    assert api.session(session["id"]).body == before


def test_cancel_twice_is_409_run_finished_canceled(api, fake_openai):
    session = api.session_with_framework()
    fake_openai.latency_s = 1.0
    run = dispatch(api, session["id"], leads(1, "twice")).body
    assert cancel(api, run["runId"]).status == 200
    again = cancel(api, run["runId"])
    assert again.status == 409 and again.body["status"] == "CANCELED"


def test_cancel_needs_the_workspace_key_and_another_workspaces_run_is_404(api, api_b, fake_openai):
    session = api.session_with_framework()
    fake_openai.latency_s = 1.0
    run = dispatch(api, session["id"], leads(1, "theirs")).body
    assert cancel(api_b, run["runId"]).status == 404
    assert cancel(api_b, run["runId"]).body["code"] == "run_not_found"
    assert cancel(api, "run_" + "0" * 24).status == 404
    assert cancel(api, "not-a-run-id").status == 404
    with_token = api.call("POST", f"/api/runs/{run['runId']}/cancel", token=run["publicAccessToken"])
    assert with_token.status == 401  # a run token reads a run; it cannot cancel it
    no_key = api.call("POST", f"/api/runs/{run['runId']}/cancel", headers={"Authorization": ""})
    assert no_key.status == 401
    assert read_run(api, run).body["status"] in ("QUEUED", "EXECUTING")
    api.wait_idle(session["id"])
    assert read_run(api, run).body["status"] == "COMPLETED"


# ------------------------------------------------------------- long poll
def test_a_waiting_read_answers_when_a_lead_lands_not_at_the_end_of_the_wait(api, stack, fake_openai):
    session = api.session_with_framework()
    release = threading.Event()

    def hold_lead_one(function, event):
        if function == "GenerateLeadFunction" and event.get("index") == 1:
            release.wait(30)

    stack.before_invoke = hold_lead_one
    fake_openai.latency_s = 0.5
    run = dispatch(api, session["id"], leads(2, "wake")).body
    try:
        start = read_run(api, run).body
        assert start["progress"]["completed"] == 0
        started = time.monotonic()
        woke = read_run(api, run, after=start["version"], wait=20)
        elapsed = time.monotonic() - started
        assert woke.status == 200
        assert woke.body["version"] > start["version"]
        assert elapsed < 20, "the read slept out its wait instead of answering the change"
        # Lead 1 is still held, so the change that woke it was not the run finishing.
        assert woke.body["status"] == "EXECUTING"
    finally:
        release.set()
    api.wait_idle(session["id"])


def test_a_waiting_read_with_no_change_answers_the_run_unchanged_after_the_wait(api, stack):
    session = api.session_with_framework()
    release = threading.Event()

    def hold_every_lead(function, event):
        if function == "GenerateLeadFunction":
            release.wait(30)

    stack.before_invoke = hold_every_lead
    run = dispatch(api, session["id"], leads(1, "still")).body
    try:
        now = read_run(api, run).body
        started = time.monotonic()
        answer = read_run(api, run, after=now["version"], wait=1)
        assert time.monotonic() - started >= 1
        assert answer.status == 200
        assert answer.body["version"] == now["version"]
        assert answer.body["progress"] == now["progress"]
    finally:
        release.set()
    api.wait_idle(session["id"])


def test_versions_grow_with_every_change_and_a_finished_run_answers_at_once(api, fake_openai):
    session = api.session_with_framework()
    fake_openai.latency_s = 0.2
    run = dispatch(api, session["id"], leads(3, "ver")).body
    seen = [read_run(api, run).body["version"]]
    assert read_run(api, run, after=0, wait=20).body["version"] >= 1  # any run is past version 0
    while True:
        view = read_run(api, run, after=seen[-1], wait=20).body
        assert view["version"] >= seen[-1]
        seen.append(view["version"])
        if view["status"] in ("COMPLETED", "FAILED", "CANCELED"):
            break
    assert seen == sorted(seen)
    assert view["version"] == 1 + 3 + 2  # new run, three leads, EXECUTING, COMPLETED
    started = time.monotonic()
    final = read_run(api, run, after=view["version"], wait=20)
    assert time.monotonic() - started < 20 and final.body == view


def test_wait_and_after_are_validated(api):
    session = api.session_with_framework()
    run = dispatch(api, session["id"], leads(1, "bad-wait")).body
    for query in ({"wait": 21, "after": 1}, {"wait": -1, "after": 1}, {"wait": "soon", "after": 1},
                  {"after": -1}, {"after": "x"}):
        answer = read_run(api, run, **query)
        assert answer.status == 422 and answer.body["code"] == "validation_error", (query, answer.body)
    api.wait_idle(session["id"])
