"""Validating an answer against its response model never changes it: the answer is what the service stored."""

from __future__ import annotations

import copy

import pytest
from pydantic import TypeAdapter, ValidationError

from outreach.models.responses import Run, Session

TS = "2025-01-31T12:00:00.000Z"
SKELETON = {"goal": "g", "audience": "a", "tone": "t", "sections": [{"name": "opener", "guidance": "x"}],
            "personalization": ["first_name"], "call_to_action": "a call", "max_words": 120}
RUN_ID = "run_" + "ab" * 12


def example(lead: dict, **fields) -> dict:
    return {"lead_id": "l1", "lead": lead, "subject": "Hi", "body": "Hello", "status": "completed", "error": None,
            "run_id": RUN_ID, "framework_version": 1, "created_at": TS, **fields}


def session(**fields) -> dict:
    return {"id": "6f2d3c9a-1b4e-4d7f-8a2c-5e9b0c1d2e3f", "campaign_id": "c", "node_id": "n", "title": None,
            "messages": [{"role": "user", "content": "hi", "created_at": TS}], "skeleton": SKELETON,
            "draft_subject": "Hi %first_name%", "draft_body": None, "skeleton_history": [], "draft_history": [],
            "framework_version": 1, "generated_examples": [], "task_status": None, "created_at": TS,
            "updated_at": "2025-01-31T12:00:00.120Z", "message_count": 1, "example_count": 0,
            "messages_next_cursor": None, "generated_examples_next_cursor": None, **fields}


def served(model: type, answer: dict):
    """What Powertools sends for a route returning Response[model] with this body."""
    adapter = TypeAdapter(model)
    return adapter.dump_python(adapter.validate_python(copy.deepcopy(answer)), mode="json")


@pytest.mark.parametrize(
    "lead",
    [
        {"first_name": "Ann"},  # only the fields that were sent: none added as null
        {"company": "Acme", "custom_fields": {"n": 250, "x": 4.5, "ok": True, "none": None}},
        {"first_name": "Ann", "headline": "h" * 5000},  # stored under an older, looser limit
        {"first_name": "Ann", "nickname": "a field a later version dropped"},
    ],
)
def test_a_session_is_served_exactly_as_stored(lead):
    answer = session(generated_examples=[example(lead)], example_count=1)
    assert served(Session, answer) == answer


def test_unknown_fields_and_timestamp_text_are_kept():
    answer = session(legacy_note="kept", updated_at="2025-01-31T12:00:00.000Z")
    assert served(Session, answer) == answer


def test_a_run_gets_no_field_it_did_not_have():
    chat_run = {"id": RUN_ID, "kind": "chat_turn", "status": "COMPLETED", "session_id": session()["id"],
                "created_at": TS, "started_at": None, "finished_at": TS, "error": None,
                "progress": {"total": 1, "completed": 1, "failed": 0},
                "usage": {"input_tokens": 5, "cached_input_tokens": 0, "output_tokens": 7}, "version": 3}
    assert served(Run, chat_run) == chat_run  # no "examples": [] added
    generate_run = {**chat_run, "kind": "generate_examples", "examples": [example({"first_name": "Ann"})]}
    assert served(Run, generate_run) == generate_run


def test_a_drifted_answer_is_still_caught():
    """Validation still runs: an answer off its model is reported (the API then sends it unchanged and logs it)."""
    with pytest.raises(ValidationError):
        TypeAdapter(Session).validate_python(session(task_status="paused"))
    with pytest.raises(ValidationError):
        TypeAdapter(Session).validate_python(session(generated_examples=[example("not an object")]))
