"""How a run's examples land in the session's generated_examples."""

import copy

from outreach.logic.merge import merge_examples


def ex(lead_id: str, status: str = "completed", run: str = "run_1", subject: str | None = None) -> dict:
    return {
        "lead_id": lead_id,
        "lead": {"full_name": lead_id},
        "subject": subject if subject is not None else (f"{lead_id} from {run}" if status == "completed" else None),
        "body": "Hi" if status == "completed" else None,
        "status": status,
        "error": None if status == "completed" else "The LLM rejected the request (HTTP 400).",
        "run_id": run,
        "framework_version": 1,
        "created_at": "2025-01-01T00:00:00.000Z",
    }


def ids(examples):
    return [(e["lead_id"], e["run_id"], e["status"]) for e in examples]


def test_first_batch_replaces_everything():
    existing = [ex("a"), ex("b"), ex("c")]
    merged = merge_examples(existing, [ex("c", run="run_2"), ex("d", run="run_2")], first_batch=True)
    assert ids(merged) == [("c", "run_2", "completed"), ("d", "run_2", "completed")]


def test_first_batch_replaces_even_with_failures():
    merged = merge_examples([ex("a")], [ex("a", "failed", run="run_2")], first_batch=True)
    assert ids(merged) == [("a", "run_2", "failed")]


def test_append_adds_new_leads_at_the_end_in_request_order():
    existing = [ex("a"), ex("b")]
    incoming = [ex("z", run="run_2"), ex("c", run="run_2"), ex("m", run="run_2")]
    merged = merge_examples(existing, incoming, first_batch=False)
    assert [e["lead_id"] for e in merged] == ["a", "b", "z", "c", "m"]


def test_append_to_empty_session():
    merged = merge_examples([], [ex("a"), ex("b")], first_batch=False)
    assert [e["lead_id"] for e in merged] == ["a", "b"]


def test_rerun_lead_replaced_in_place():
    existing = [ex("a"), ex("b"), ex("c")]
    merged = merge_examples(existing, [ex("b", run="run_2")], first_batch=False)
    assert ids(merged) == [("a", "run_1", "completed"), ("b", "run_2", "completed"), ("c", "run_1", "completed")]
    assert merged[1]["subject"] == "b from run_2"


def test_rerun_and_new_leads_together():
    existing = [ex("a"), ex("b")]
    merged = merge_examples(existing, [ex("c", run="run_2"), ex("a", run="run_2")], first_batch=False)
    assert ids(merged) == [("a", "run_2", "completed"), ("b", "run_1", "completed"), ("c", "run_2", "completed")]


def test_failed_result_never_replaces_completed_example_in_append_mode():
    existing = [ex("a"), ex("b")]
    merged = merge_examples(existing, [ex("a", "failed", run="run_2"), ex("c", "failed", run="run_2")],
                            first_batch=False)
    assert ids(merged) == [("a", "run_1", "completed"), ("b", "run_1", "completed"), ("c", "run_2", "failed")]
    assert merged[0]["subject"] == "a from run_1"


def test_failed_result_replaces_earlier_failed_example():
    existing = [ex("a", "failed"), ex("b")]
    merged = merge_examples(existing, [ex("a", "failed", run="run_2")], first_batch=False)
    assert ids(merged) == [("a", "run_2", "failed"), ("b", "run_1", "completed")]


def test_completed_result_replaces_earlier_failed_example():
    existing = [ex("a"), ex("b", "failed")]
    merged = merge_examples(existing, [ex("b", run="run_2")], first_batch=False)
    assert ids(merged) == [("a", "run_1", "completed"), ("b", "run_2", "completed")]


def test_duplicates_in_one_batch_collapse_to_one_entry_keeping_the_later():
    new = [ex("a", subject="first"), ex("b"), ex("a", subject="second")]
    for first_batch in (True, False):
        merged = merge_examples([], new, first_batch=first_batch)
        assert [e["lead_id"] for e in merged] == ["a", "b"]
        assert merged[0]["subject"] == "second"


def test_duplicates_in_an_append_batch_of_an_existing_lead_collapse_in_place():
    incoming = [ex("a", subject="one", run="run_2"), ex("a", subject="two", run="run_2")]
    merged = merge_examples([ex("x"), ex("a")], incoming, first_batch=False)
    assert [e["lead_id"] for e in merged] == ["x", "a"]
    assert merged[1]["subject"] == "two"


def test_inputs_are_not_mutated():
    existing, new = [ex("a"), ex("b")], [ex("a", run="run_2"), ex("c", run="run_2")]
    before = copy.deepcopy((existing, new))
    merge_examples(existing, new, first_batch=False)
    assert (existing, new) == before
