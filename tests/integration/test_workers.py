"""The state machines' steps on the real store: one lead, the aggregate, a chat turn, the failure path."""

import re

import openai
import pytest

from outreach import clock
from outreach.clock import now_epoch
from outreach.errors import LLMTransientError
from outreach.llm.openai_writer import OpenAIWriter
from outreach.logic import sessions, workers
from outreach.logic.leads import lead_id
from tests.fakes.openai_server import ALWAYS_500, PERMANENT_FAIL
from tests.integration.conftest import DRAFT_BODY, DRAFT_SUBJECT, SKELETON, WS_A, raw_session
from tests.waiting import SteppedClock

EXAMPLE_FIELDS = {
    "lead_id", "lead", "subject", "body", "status", "error", "run_id", "framework_version", "created_at", "review"
}
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
ANN = {"first_name": "Ann", "last_name": "Lee", "company": "Acme", "position": "CTO",
       "linkedin_url": "https://www.linkedin.com/in/annlee"}
BO = {"full_name": "Bo Diaz", "company": "Initech", "position": "CFO"}
CY = {"first_name": "Cy", "company": "Globex", "custom_fields": {"industry": "energy"}}


def is_free(store, session_id):
    item = store.get_session(WS_A, session_id)
    return not {"task_status", "task_run_id", "task_expires_at"} & item.model_fields_set


def run_all(store, writer, run_id, count):
    for i in range(count):
        workers.generate_lead(store, writer, run_id, i)


# ------------------------------------------------------------ generate_lead
def test_generate_lead_records_the_email_once(store, writer, make_session, make_generate_run):
    session = make_session()
    run_id = make_generate_run(session, [ANN, BO])
    out = workers.generate_lead(store, writer, run_id, 0)
    assert (out["index"], out["status"]) == (0, "completed")
    lead = store.get_lead(run_id, 0)
    assert out["usage"] == lead.usage.model_dump() and out["latency_ms"] == lead.latency_ms >= 0
    assert lead.status == "completed"
    assert lead.subject == "A quick idea for Acme"
    assert lead.body.startswith("Hi Ann,") and "as CTO at Acme" in lead.body
    assert lead.error is None and lead.model == writer.model
    assert lead.usage.input_tokens > 0 and lead.usage.output_tokens > 0
    assert ISO.match(lead.finished_at)
    assert 0 < lead.shared_prefix_chars < lead.prompt_chars
    # only this lead: the other one is still waiting
    assert store.get_lead(run_id, 1).status == "pending"
    run = store.get_run(run_id)
    assert run.status == "EXECUTING" and ISO.match(run.started_at)


def test_generate_lead_again_changes_nothing(store, writer, make_session, make_generate_run):
    session = make_session()
    run_id = make_generate_run(session, [ANN])
    wall = SteppedClock()
    with clock.reading(wall):
        workers.generate_lead(store, writer, run_id, 0)
        before = store.get_lead(run_id, 0)
        wall.advance(60)  # a rewrite would carry a later finished_at
        assert workers.generate_lead(store, writer, run_id, 0) == {"index": 0, "status": "completed"}
    assert store.get_lead(run_id, 0) == before


def test_generate_lead_uses_the_sequence_context(store, writer, make_session, make_generate_run):
    session = make_session()
    context = {"position": 2, "total_nodes": 3, "prior_nodes": [{"subject": "Payroll at %company%", "body": "First"}]}
    run_id = make_generate_run(session, [ANN], sequence_context=context)
    workers.generate_lead(store, writer, run_id, 0)
    lead = store.get_lead(run_id, 0)
    assert lead.subject == "Re: Payroll at Acme"
    assert "following up" in lead.body.lower()


def test_generate_lead_of_a_finished_run_is_skipped(store, writer, make_session, make_generate_run):
    session = make_session()
    run_id = make_generate_run(session, [ANN])
    workers.fail_and_release(store, run_id, "States.Timeout")
    assert workers.generate_lead(store, writer, run_id, 0)["status"] == "skipped"
    assert store.get_lead(run_id, 0).status == "pending"
    assert workers.generate_lead(store, writer, "run_000000000000000000000000", 0)["status"] == "skipped"


def test_generate_lead_with_unknown_index_is_skipped(store, writer, make_session, make_generate_run):
    run_id = make_generate_run(make_session(), [ANN])
    assert workers.generate_lead(store, writer, run_id, 5)["status"] == "skipped"


def test_record_lead_failure_is_readable(store, make_session, make_generate_run):
    session = make_session()
    run_id = make_generate_run(session, [ANN, BO, CY])
    assert workers.record_lead_failure(store, run_id, 0, "LLMTransientError") == {"index": 0, "status": "failed"}
    workers.record_lead_failure(store, run_id, 1, "Lambda.Unknown")
    workers.record_lead_failure(store, run_id, 2, None)
    errors = [store.get_lead(run_id, i).error for i in range(3)]
    assert all(store.get_lead(run_id, i).status == "failed" for i in range(3))
    assert errors[0] != "LLMTransientError" and "LLM" in errors[0] and "retr" in errors[0]
    assert errors[1] != "Lambda.Unknown" and "crash" in errors[1]
    assert errors[2]
    for error in errors:
        assert error[0].isupper() and error.endswith(".")


def test_late_failure_does_not_overwrite_a_completed_lead(store, writer, make_session, make_generate_run):
    run_id = make_generate_run(make_session(), [ANN])
    workers.generate_lead(store, writer, run_id, 0)
    before = store.get_lead(run_id, 0)
    workers.record_lead_failure(store, run_id, 0, "States.Timeout")
    assert store.get_lead(run_id, 0) == before


@pytest.fixture
def llm(fake_openai):
    fake_openai.reset()
    client = openai.OpenAI(api_key="x", base_url=fake_openai.url, max_retries=1, timeout=10)
    return OpenAIWriter(client, "gpt-test", cache_key=False)


def test_permanent_llm_error_records_a_failed_lead(store, llm, make_session, make_generate_run):
    run_id = make_generate_run(make_session(), [{**ANN, "headline": PERMANENT_FAIL}, BO])
    assert workers.generate_lead(store, llm, run_id, 0)["status"] == "failed"
    assert workers.generate_lead(store, llm, run_id, 1)["status"] == "completed"
    failed = store.get_lead(run_id, 0)
    assert failed.status == "failed" and "400" in failed.error
    assert store.get_lead(run_id, 1).subject == "An idea for Initech"


def test_transient_llm_error_leaves_the_lead_for_a_retry(store, llm, make_session, make_generate_run):
    run_id = make_generate_run(make_session(), [{**ANN, "headline": ALWAYS_500}])
    with pytest.raises(LLMTransientError):
        workers.generate_lead(store, llm, run_id, 0)
    assert store.get_lead(run_id, 0).status == "pending"


# ---------------------------------------------------------------- aggregate
def test_aggregate_merges_results_in_order_and_frees_the_session(store, writer, make_session, make_generate_run):
    session = make_session()
    run_id = make_generate_run(session, [ANN, BO, CY], first_batch=True)
    workers.generate_lead(store, writer, run_id, 2)  # finish out of order
    workers.record_lead_failure(store, run_id, 1, "LLMTransientError")
    workers.generate_lead(store, writer, run_id, 0)

    out = workers.aggregate(store, run_id)
    assert out["status"] == "COMPLETED"

    view = sessions.get_session(store, WS_A, session.id)
    examples = view["generated_examples"]
    assert [e["lead"] for e in examples] == [ANN, BO, CY]
    for example in examples:
        assert set(example) == EXAMPLE_FIELDS
        assert example["run_id"] == run_id
        assert example["framework_version"] == 1
        assert ISO.match(example["created_at"])
        assert example["lead_id"] == lead_id(example["lead"])
    assert examples[0]["lead_id"] == "https://www.linkedin.com/in/annlee"
    assert [e["status"] for e in examples] == ["completed", "failed", "completed"]
    assert examples[0]["subject"] == "A quick idea for Acme" and examples[0]["error"] is None
    assert examples[2]["body"].startswith("Hi Cy,")
    assert examples[1]["subject"] is None and examples[1]["body"] is None and examples[1]["error"]
    assert view["task_status"] is None and is_free(store, session.id)
    # the framework and the rest of the session are untouched
    assert (view["skeleton"], view["draft_subject"], view["draft_body"]) == (SKELETON, DRAFT_SUBJECT, DRAFT_BODY)
    assert view["title"] == session.title and view["updated_at"] >= session.updated_at

    run = store.get_run(run_id)
    assert run.status == "COMPLETED" and ISO.match(run.finished_at)
    assert run.progress.model_dump() == {"total": 3, "completed": 2, "failed": 1}
    leads = store.get_run_leads(run_id)
    for name in ("input_tokens", "cached_input_tokens", "output_tokens"):
        assert getattr(run.usage, name) == sum(getattr(lead.usage, name) for lead in leads if lead.usage)
    assert run.usage.input_tokens > 0


def test_aggregate_marks_unfinished_leads_failed(store, writer, make_session, make_generate_run):
    session = make_session()
    run_id = make_generate_run(session, [ANN, BO], first_batch=True)
    workers.generate_lead(store, writer, run_id, 0)
    workers.aggregate(store, run_id)
    examples = store.read_session(WS_A, session.id).generated_examples
    assert [e.status for e in examples] == ["completed", "failed"]
    assert examples[1].error
    assert store.get_run(run_id).progress.model_dump() == {"total": 2, "completed": 1, "failed": 1}


def test_aggregate_twice_changes_nothing(store, writer, make_session, make_generate_run):
    session = make_session()
    run_id = make_generate_run(session, [ANN, BO])
    run_all(store, writer, run_id, 2)
    wall = SteppedClock()
    with clock.reading(wall):
        workers.aggregate(store, run_id)
        session_before, run_before = store.read_session(WS_A, session.id), store.get_run(run_id)
        wall.advance(60)  # a rewrite would carry a later updated_at and finished_at
        assert workers.aggregate(store, run_id)["status"] == "COMPLETED"
    assert store.read_session(WS_A, session.id) == session_before
    assert store.get_run(run_id) == run_before
    assert len(session_before.generated_examples) == 2


def test_aggregate_after_the_next_run_took_the_session_changes_nothing(
    store, writer, make_session, make_generate_run, claim
):
    session = make_session()
    run_id = make_generate_run(session, [ANN, BO])
    run_all(store, writer, run_id, 2)
    workers.aggregate(store, run_id)
    newer = claim(session)
    before = store.read_session(WS_A, session.id)
    workers.aggregate(store, run_id)
    workers.fail_and_release(store, run_id, "States.TaskFailed")
    assert store.read_session(WS_A, session.id) == before
    assert before.task_run_id == newer
    assert store.get_run(run_id).status == "COMPLETED"


def test_append_then_rerun_keeps_order_and_replaces_in_place(store, writer, make_session, make_generate_run):
    session = make_session()
    first = make_generate_run(session, [ANN, BO], first_batch=True)
    run_all(store, writer, first, 2)
    workers.aggregate(store, first)

    second = make_generate_run(session, [CY, {**BO, "full_name": "bo   DIAZ"}], first_batch=False)
    run_all(store, writer, second, 2)
    workers.aggregate(store, second)
    examples = store.read_session(WS_A, session.id).generated_examples
    assert [(e.lead.get("first_name") or e.lead["full_name"], e.run_id) for e in examples] == [
        ("Ann", first), ("bo   DIAZ", second), ("Cy", second)
    ]

    # a failed top-up of Ann loses nothing; a new first batch replaces everything
    third = make_generate_run(session, [ANN])
    workers.record_lead_failure(store, third, 0, "LLMTransientError")
    workers.aggregate(store, third)
    examples = store.read_session(WS_A, session.id).generated_examples
    assert (examples[0].run_id, examples[0].status) == (first, "completed")
    assert store.get_run(third).progress.model_dump() == {"total": 1, "completed": 0, "failed": 1}

    fourth = make_generate_run(session, [CY], first_batch=True)
    run_all(store, writer, fourth, 1)
    workers.aggregate(store, fourth)
    examples = store.read_session(WS_A, session.id).generated_examples
    assert [(e.lead["first_name"], e.run_id) for e in examples] == [("Cy", fourth)]


def test_aggregate_of_an_overtaken_run_writes_nothing(store, writer, make_session, make_generate_run, claim):
    session = make_session()
    old = make_generate_run(session, [ANN], first_batch=True, now=now_epoch() - 1000)  # its claim has expired
    newer = claim(session)
    run_all(store, writer, old, 1)

    out = workers.aggregate(store, old)
    assert out["status"] == "FAILED" and out["released"] is False
    item = store.read_session(WS_A, session.id)
    assert item.generated_examples == []
    assert item.task_run_id == newer and item.task_status == "generating_examples"
    run = store.get_run(old)
    assert run.status == "FAILED" and run.error == workers.CLAIM_LOST
    assert run.progress.model_dump() == {"total": 1, "completed": 1, "failed": 0}


def test_aggregate_of_a_deleted_session_does_not_recreate_it(store, stack, writer, make_session, make_generate_run):
    session = make_session()
    run_id = make_generate_run(session, [ANN])
    run_all(store, writer, run_id, 1)
    assert store.delete_session(WS_A, session.id)
    assert workers.aggregate(store, run_id)["status"] == "FAILED"
    assert raw_session(stack, session.id) is None
    assert store.get_run(run_id).status == "FAILED"


def test_a_hundred_long_emails_land_where_one_session_item_could_not_hold_them(
    store, make_session, make_generate_run
):
    session = make_session()
    leads = [{"first_name": f"Lead{i}", "company": "Acme"} for i in range(100)]
    run_id = make_generate_run(session, leads)
    for i in range(100):  # 100 long emails: well over DynamoDB's 400 KB item limit together
        store.record_lead(run_id, i, {"status": "completed", "subject": "S", "body": "x" * 5000, "error": None,
                                      "finished_at": "2025-01-01T00:00:00.000Z"})
    assert workers.aggregate(store, run_id)["status"] == "COMPLETED"
    item = store.read_session(WS_A, session.id)
    assert [e.lead for e in item.generated_examples] == leads
    assert all(len(e.body) == 5000 for e in item.generated_examples)
    assert is_free(store, session.id)


def test_aggregate_of_unknown_run(store):
    assert workers.aggregate(store, "run_000000000000000000000000")["status"] == "missing"


# ---------------------------------------------------------------- chat turn
def test_chat_turn_sets_the_framework_and_leaves_the_rest(store, writer, make_session, make_chat_run,
                                                          make_generate_run):
    session = make_session(title="Payroll push")
    earlier = make_generate_run(session, [ANN], first_batch=True)
    run_all(store, writer, earlier, 1)
    workers.aggregate(store, earlier)
    examples = store.read_session(WS_A, session.id).generated_examples
    assert len(examples) == 1
    # Examples of an earlier framework, and no framework now: the turn writes the first one again.
    current = store.get_session(WS_A, session.id)
    session = store.update_session(WS_A, session.id, {"skeleton": None, "draft_subject": None, "draft_body": None,
                                   "framework_version": 0}, expected_updated_at=current.updated_at)
    run_id = make_chat_run(session, "We sell payroll software to fintech startups. Ask for a demo.")
    assert workers.chat_turn(store, writer, run_id)["status"] == "COMPLETED"

    view = sessions.get_session(store, WS_A, session.id)
    user, assistant = view["messages"]
    assert user["role"] == "user" and user["content"] == "We sell payroll software to fintech startups. Ask for a demo."
    assert assistant["role"] == "assistant" and assistant["content"].strip()
    assert ISO.match(user["created_at"]) and ISO.match(assistant["created_at"])
    assert user["created_at"] == store.get_run(run_id).context.message_created_at
    assert view["skeleton"]["goal"] == "We sell payroll software to fintech startups."
    assert view["skeleton"]["call_to_action"] == "a short demo"
    assert "%first_name%" in view["draft_body"] and view["draft_subject"]
    assert view["framework_version"] == 1
    assert view["skeleton_history"] == [] and view["draft_history"] == []
    assert view["title"] == "Payroll push" and view["generated_examples"] == [e.model_dump() for e in examples]
    assert view["task_status"] is None and is_free(store, session.id)
    run = store.get_run(run_id)
    assert run.status == "COMPLETED" and run.usage.input_tokens > 0


def test_second_chat_turn_keeps_history(store, writer, make_session, make_chat_run):
    session = make_session(framework=False)
    workers.chat_turn(store, writer, make_chat_run(session, "We sell payroll software."))
    first = store.read_session(WS_A, session.id)

    workers.chat_turn(store, writer, make_chat_run(session, "Make it casual and mention our SOC 2 report."))
    second = sessions.get_session(store, WS_A, session.id)
    assert [m["role"] for m in second["messages"]] == ["user", "assistant", "user", "assistant"]
    assert second["messages"][:2] == [m.model_dump() for m in first.messages]
    assert second["messages"][2]["content"] == "Make it casual and mention our SOC 2 report."
    assert second["framework_version"] == 2
    assert second["skeleton"] != first.skeleton and second["skeleton"]["tone"] == "casual"
    assert second["skeleton_history"] == [first.skeleton]
    assert len(second["draft_history"]) == 1
    entry = second["draft_history"][0]
    assert (entry["draft_subject"], entry["draft_body"]) == (first.draft_subject, first.draft_body)
    assert entry["framework_version"] == 1 and ISO.match(entry["replaced_at"])


def test_chat_turn_after_losing_the_session_writes_nothing(store, writer, make_session, make_chat_run, claim):
    session = make_session(framework=False)
    run_id = make_chat_run(session, "We sell payroll software.")
    assert store.release_claim(session.id, run_id)
    newer = claim(session, task_status="chat_processing", require_skeleton=False)
    out = workers.chat_turn(store, writer, run_id)
    assert out["status"] == "FAILED"
    item = store.read_session(WS_A, session.id)
    assert item.messages == [] and item.skeleton is None and item.task_run_id == newer
    assert store.get_run(run_id).error == workers.CLAIM_LOST


def test_chat_turn_twice_adds_the_messages_once(store, writer, make_session, make_chat_run):
    session = make_session(framework=False)
    run_id = make_chat_run(session, "We sell payroll software.")
    workers.chat_turn(store, writer, run_id)
    before = store.read_session(WS_A, session.id)
    workers.chat_turn(store, writer, run_id)
    assert store.read_session(WS_A, session.id) == before


# ----------------------------------------------------------- failure path
def test_fail_and_release_frees_the_session(store, make_session, make_generate_run, claim):
    session = make_session()
    run_id = make_generate_run(session, [ANN])
    out = workers.fail_and_release(store, run_id, "The step timed out.")
    assert out == {"run_id": run_id, "status": "FAILED", "released": True}
    run = store.get_run(run_id)
    assert run.status == "FAILED" and run.error == "The step timed out." and ISO.match(run.finished_at)
    assert is_free(store, session.id)
    assert sessions.get_session(store, WS_A, session.id)["task_status"] is None
    claim(session)  # immediately claimable again


def test_fail_and_release_after_completion_changes_nothing(store, writer, make_session, make_generate_run):
    session = make_session()
    run_id = make_generate_run(session, [ANN])
    run_all(store, writer, run_id, 1)
    workers.aggregate(store, run_id)
    before = store.get_run(run_id)
    assert workers.fail_and_release(store, run_id, "late")["status"] == "unchanged"
    assert store.get_run(run_id) == before


def test_fail_and_release_of_unknown_run(store):
    assert workers.fail_and_release(store, "run_000000000000000000000000", "x")["status"] == "missing"
