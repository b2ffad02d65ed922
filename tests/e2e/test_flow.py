"""The main job end to end: chat turns, dispatch, the Map fan-out, the aggregate, and its failure paths."""

import json
import threading

import pytest
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from tests.fakes.openai_server import ALWAYS_500, PERMANENT_FAIL, RATE_LIMIT_ONCE


def leads(n, prefix="Lead"):
    return [
        {
            "first_name": f"{prefix}{i}",
            "last_name": "Tester",
            "company": f"{prefix} Company {i}",
            "position": "VP Sales",
            "linkedin_url": f"https://www.linkedin.com/in/{prefix.lower()}-{i}",
        }
        for i in range(n)
    ]


GATE_S = 60  # how long the fake holds calls waiting for the rest: a deadline for a slow machine, not a measure


@pytest.fixture
def patient_llm(stack, monkeypatch):
    """The lead worker waits longer for the LLM than the fake holds a call at its gate (no client time-out)."""
    for worker in ("GenerateLeadFunction", "ChatTurnFunction"):
        monkeypatch.setitem(stack.functions[worker].environment, "LLM_TIMEOUT_S", str(GATE_S + 30))


def run_of(api, dispatch):
    return api.call("GET", f"/api/runs/{dispatch['runId']}", token=dispatch["publicAccessToken"]).body


def test_examples_land_in_request_order_with_the_contract_fields(api):
    session = api.session_with_framework()
    sent = leads(5)
    answer = api.generate(session["id"], sent, isFirstBatch=True)
    assert answer.status == 200
    assert set(answer.body) == {"runId", "publicAccessToken"}

    done = api.wait_idle(session["id"])
    examples = done["generated_examples"]
    assert [e["lead"] for e in examples] == sent
    for example, lead in zip(examples, sent, strict=True):
        assert example["lead_id"] == lead["linkedin_url"]
        assert example["status"] == "completed" and example["error"] is None
        # each email is its own lead's: it names that lead and company, and no other lead of the batch
        assert lead["company"] in example["subject"] and lead["first_name"] in example["body"]
        others = [other["company"] for other in sent if other is not lead]
        assert not [company for company in others if company in example["subject"] + example["body"]]
        assert example["run_id"] == answer.body["runId"]
        assert example["framework_version"] == session["framework_version"]
        assert example["created_at"].endswith("Z")

    run = run_of(api, answer.body)
    assert run["status"] == "COMPLETED" and run["kind"] == "generate_examples"
    assert run["progress"] == {"total": 5, "completed": 5, "failed": 0}
    assert run["usage"]["input_tokens"] > 0 and run["usage"]["output_tokens"] > 0
    assert run["finished_at"] >= run["created_at"]


def test_leads_run_in_parallel_and_each_call_carries_one_lead(api, fake_openai, patient_llm):
    session = api.session_with_framework()
    fake_openai.reset()
    sent = leads(8, "Par")
    # Each call is held until all 8 are in flight together: only leads that run in parallel get through.
    gate = fake_openai.hold_email_requests(len(sent), timeout_s=GATE_S, marker="/in/par-")
    assert api.generate(session["id"], sent).status == 200
    done = api.wait_idle(session["id"], timeout_s=GATE_S + 30)

    assert gate.filled, f"only {gate.most_waiting} of 8 LLM calls were ever in flight together"
    assert all(e["status"] == "completed" for e in done["generated_examples"])
    calls = [call for call in fake_openai.email_requests() if "/in/par-" in json.dumps(call["body"])]
    assert len(calls) == 8
    for call in calls:
        text = json.dumps(call["body"]["messages"])
        present = [lead["first_name"] for lead in sent if f'\\"first_name\\": \\"{lead["first_name"]}\\"' in text]
        assert len(present) == 1, f"a call carried {present}"
        assert text.count("</prospect_data>") == 1


def test_a_twelve_way_race_has_one_winner(api, fake_openai, patient_llm):
    session = api.session_with_framework()
    # One lead never fills the gate: the winner's run waits at the LLM until the race is over.
    gate = fake_openai.hold_email_requests(2, timeout_s=GATE_S, marker="/in/race-")
    answers, barrier = [], threading.Barrier(12)

    def dispatch():
        barrier.wait()
        answers.append(api.generate(session["id"], leads(1, "Race")))

    threads = [threading.Thread(target=dispatch) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    gate.open.set()
    statuses = sorted(a.status for a in answers)
    assert statuses == [200] + [409] * 11
    assert all(a.body["code"] == "session_busy" for a in answers if a.status == 409)
    api.wait_idle(session["id"])


def test_no_framework_is_400_but_a_busy_session_is_409_first(api, fake_openai, patient_llm):
    session = api.create_session()
    answer = api.generate(session["id"], leads(1))
    assert answer.status == 400
    assert answer.body == {"error": "Session has no framework yet. Chat first to create one.", "code": "no_framework"}

    marker = f"busy turn {session['id']}"
    gate = fake_openai.hold_email_requests(2, timeout_s=GATE_S, schema="FrameworkReply", marker=marker)
    assert api.turn(session["id"], marker).status == 200  # the turn waits at the LLM until the test opens the gate
    busy = api.generate(session["id"], leads(1))
    assert busy.status == 409 and busy.body["code"] == "session_busy"
    assert api.turn(session["id"]).status == 409
    gate.open.set()
    api.wait_idle(session["id"])


def test_a_failed_start_execution_answers_500_and_frees_the_session(api, monkeypatch):
    session = api.session_with_framework()

    def refuse(self, *args, **kwargs):
        raise RuntimeError("Step Functions is down")

    monkeypatch.setattr(StepFunctionsParserBackend, "start_execution", refuse)
    answer = api.generate(session["id"], leads(2))
    assert answer.status == 500
    assert answer.body["code"] == "dispatch_failed"
    assert api.session(session["id"]).body["task_status"] is None

    monkeypatch.undo()
    retry = api.generate(session["id"], leads(2))
    assert retry.status == 200
    assert len(api.wait_idle(session["id"])["generated_examples"]) == 2


def test_one_leads_permanent_llm_error_is_recorded_and_the_rest_land(api):
    session = api.session_with_framework()
    sent = leads(4)
    sent[2]["custom_fields"] = {"note": PERMANENT_FAIL}
    answer = api.generate(session["id"], sent, isFirstBatch=True)
    done = api.wait_idle(session["id"])

    statuses = [e["status"] for e in done["generated_examples"]]
    assert statuses == ["completed", "completed", "failed", "completed"]
    failed = done["generated_examples"][2]
    assert failed["subject"] is None and "HTTP 400" in failed["error"]
    run = run_of(api, answer.body)
    assert run["status"] == "COMPLETED"
    assert run["progress"] == {"total": 4, "completed": 3, "failed": 1}


def test_a_rate_limited_lead_is_retried_and_lands(api, fake_openai):
    session = api.session_with_framework()
    sent = leads(2)
    sent[0]["headline"] = RATE_LIMIT_ONCE
    api.generate(session["id"], sent, isFirstBatch=True)
    done = api.wait_idle(session["id"])
    assert [e["status"] for e in done["generated_examples"]] == ["completed", "completed"]
    calls = [c for c in fake_openai.email_requests() if RATE_LIMIT_ONCE in json.dumps(c["body"])]
    assert len(calls) == 2


@pytest.mark.slow
def test_a_lead_failing_transiently_for_good_is_recorded_failed(api):
    session = api.session_with_framework()
    sent = leads(2)
    sent[1]["headline"] = ALWAYS_500
    answer = api.generate(session["id"], sent, isFirstBatch=True)
    done = api.wait_idle(session["id"], timeout_s=120)
    assert [e["status"] for e in done["generated_examples"]] == ["completed", "failed"]
    assert "after retries" in done["generated_examples"][1]["error"]
    assert run_of(api, answer.body)["progress"]["failed"] == 1


def test_a_worker_that_raises_fails_only_its_lead(api, stack):
    session = api.session_with_framework()

    def crash_lead_one(function, event):
        if function == "GenerateLeadFunction" and event.get("index") == 1 and event.get("action") != "record_failure":
            raise MemoryError("worker died")

    stack.before_invoke = crash_lead_one
    api.generate(session["id"], leads(3), isFirstBatch=True)
    done = api.wait_idle(session["id"])
    assert [e["status"] for e in done["generated_examples"]] == ["completed", "failed", "completed"]
    assert done["generated_examples"][1]["error"] == "The step failed (MemoryError)."


@pytest.mark.slow
def test_a_failing_aggregate_releases_the_claim_and_fails_the_run(api, stack):
    session = api.session_with_framework()

    def crash_aggregate(function, event):
        if function == "AggregateFunction":
            raise RuntimeError("aggregate bug")

    stack.before_invoke = crash_aggregate
    answer = api.generate(session["id"], leads(2), isFirstBatch=True)
    done = api.wait_idle(session["id"], timeout_s=120)
    assert done["generated_examples"] == []
    run = run_of(api, answer.body)
    assert run["status"] == "FAILED" and run["error"]
    stack.before_invoke = None
    assert api.generate(session["id"], leads(1)).status == 200
    api.wait_idle(session["id"])


def test_first_batch_overwrites_and_later_batches_append_or_replace_in_place(api):
    session = api.session_with_framework()
    a, b, c, d = leads(4, "Merge")
    api.generate(session["id"], [a, b], isFirstBatch=True)
    first = api.wait_idle(session["id"])["generated_examples"]
    assert [e["lead"]["first_name"] for e in first] == ["Merge0", "Merge1"]

    b_again = {**b, "company": "Renamed Co"}
    second_run = api.generate(session["id"], [b_again, c]).body["runId"]
    second = api.wait_idle(session["id"])["generated_examples"]
    assert [e["lead"]["first_name"] for e in second] == ["Merge0", "Merge1", "Merge2"]
    assert second[0] == first[0]
    assert "Renamed Co" in second[1]["subject"] and second[1]["run_id"] == second_run

    api.generate(session["id"], [d], isFirstBatch=True)
    third = api.wait_idle(session["id"])["generated_examples"]
    assert [e["lead"]["first_name"] for e in third] == ["Merge3"]


def test_chat_turns_build_the_framework_and_keep_history(api):
    session = api.create_session(title="Keep me")
    assert api.turn(session["id"], "First message").status == 200
    one = api.wait_idle(session["id"])
    assert [m["role"] for m in one["messages"]] == ["user", "assistant"]
    assert one["messages"][0]["content"] == "First message"
    assert one["skeleton"]["goal"] == "Book a call"
    assert one["draft_subject"] == "Idea for %company%"
    assert one["framework_version"] == 1 and one["skeleton_history"] == []

    api.generate(session["id"], leads(1), isFirstBatch=True)
    examples = api.wait_idle(session["id"])["generated_examples"]
    assert api.turn(session["id"], "Second message").status == 200
    two = api.wait_idle(session["id"])
    assert len(two["messages"]) == 4
    assert two["skeleton_history"] == [one["skeleton"]]
    assert two["draft_history"][-1]["draft_subject"] == one["draft_subject"]
    assert two["title"] == "Keep me"
    assert two["generated_examples"] == examples


def test_a_chat_turn_run_is_readable_with_its_token(api):
    session = api.create_session()
    dispatch = api.turn(session["id"]).body
    api.wait_idle(session["id"])
    run = run_of(api, dispatch)
    assert run["kind"] == "chat_turn" and run["status"] == "COMPLETED"
    assert run["progress"] == {"total": 1, "completed": 1, "failed": 0}
    assert run["session_id"] == session["id"]


def test_a_hundred_leads_run_in_one_wave_and_all_land_in_order(api, stack, fake_openai, patient_llm):
    """Past the inline Map's 40: the Distributed Map runs the batch at once."""
    definition = json.loads(stack.client("stepfunctions").describe_state_machine(
        stateMachineArn=stack.state_machines["GenerateExamplesStateMachine"])["definition"])
    fan_out = definition["States"]["GenerateEachLead"]
    assert fan_out["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert fan_out["MaxConcurrency"] >= 100

    session = api.session_with_framework()
    fake_openai.reset()
    sent = leads(100, "Hundred")
    # Every call is held until all 100 are in flight together: one wave, not batches of 40.
    gate = fake_openai.hold_email_requests(len(sent), timeout_s=GATE_S, marker="/in/hundred-")
    dispatch = api.generate(session["id"], sent, isFirstBatch=True).body
    done = api.wait_idle(session["id"], timeout_s=GATE_S + 60)
    assert gate.filled, f"at most {gate.most_waiting} of 100 LLM calls were in flight together"
    assert [e["lead"] for e in done["generated_examples"]] == sent
    failed = [(i, e["error"]) for i, e in enumerate(done["generated_examples"]) if e["status"] != "completed"]
    assert not failed, failed
    assert run_of(api, dispatch)["progress"] == {"total": 100, "completed": 100, "failed": 0}
