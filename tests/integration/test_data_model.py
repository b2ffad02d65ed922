"""Sessions that do not grow per item: messages and examples as their own items, limits, paging, throttling.

On the real store (moto enforces DynamoDB's 400 KB item limit), table built from template.yaml.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError

from outreach.clock import now_epoch
from outreach.errors import InvalidCursor, SessionBusy, StoreThrottled, TooLarge, TooManyExamples, TooManyMessages
from outreach.llm.offline import OfflineWriter
from outreach.logic import runs, sessions, workers
from outreach.models.requests import (
    ChatTurnRequest,
    CreateSessionRequest,
    GenerateExamplesRequest,
    UpdateSessionRequest,
)
from tests.integration.conftest import WS_A, WS_B

SECRET = b"test-service-secret"
SETTINGS = SimpleNamespace(run_timeout_s=900, run_retention_days=7, run_token_ttl_s=900,
                           generate_state_machine_arn="arn:unused", chat_state_machine_arn="arn:unused")


class RefusingSfn:
    """A dispatch these tests expect to be refused before it starts anything."""

    def start_execution(self, **kwargs):
        raise AssertionError("the request should have been refused before the run started")


def collection(stack, session_id: str) -> list[dict]:
    """Every raw item of a session's item collection, as DynamoDB holds it."""
    pages = stack.client("dynamodb").get_paginator("query").paginate(
        TableName=stack.table_name, KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"S#{session_id}"}}, ConsistentRead=True,
    )
    return [item for page in pages for item in page["Items"]]


def item_bytes(item: dict) -> int:
    """An item's size as DynamoDB counts it, near enough: names plus values."""
    return len(json.dumps(item, ensure_ascii=False).encode())


def top_up(store, writer, make_generate_run, session, leads, *, first_batch=False):
    run_id = make_generate_run(session, leads, first_batch=first_batch)
    for i in range(len(leads)):
        workers.generate_lead(store, writer, run_id, i)
    assert workers.aggregate(store, run_id)["status"] == "COMPLETED"
    return run_id


def chat(store, writer, make_chat_run, session, message):
    run_id = make_chat_run(session, message)
    out = workers.chat_turn(store, writer, run_id)
    assert out["status"] == "COMPLETED", store.get_run(run_id)
    return run_id


class RecordingWriter(OfflineWriter):
    """The offline writer, remembering the size of every prompt it was given and how often it was called."""

    def __init__(self):
        super().__init__()
        self.prompt_chars: list[int] = []
        self.email_calls = 0

    def framework_turn(self, prompt):
        self.prompt_chars.append(prompt.total_chars)
        return super().framework_turn(prompt)

    def write_email(self, prompt):
        self.email_calls += 1
        return super().write_email(prompt)


# ---------------------------------------------------------------- messages
# First in the module: moto copies the whole table on every transaction, so this runs on a small table.
def test_forty_chat_turns_of_5000_characters_all_complete_with_a_bounded_prompt(store, make_session, make_chat_run):
    writer = RecordingWriter()
    session = make_session(framework=False)
    sent = [f"Turn {n}: " + "x" * 4990 for n in range(40)]
    for message in sent:
        chat(store, writer, make_chat_run, session, message)
    view = sessions.get_session(store, WS_A, session.id)
    assert len(view["messages"]) == 80
    assert [m["content"] for m in view["messages"][0::2]] == sent
    assert all(m["role"] == "assistant" for m in view["messages"][1::2])
    assert view["skeleton"] is not None and view["task_status"] is None
    # The prompt stops growing once the chat outgrows its window.
    assert max(writer.prompt_chars[20:]) <= max(writer.prompt_chars[:20]) + 5000


# ---------------------------------------------------------------- examples
def test_a_rerun_replaces_in_place_and_its_old_version_is_deleted(store, stack, writer, make_session,
                                                                   make_generate_run):
    session = make_session()
    leads = [{"first_name": f"L{i}", "company": "Acme"} for i in range(3)]
    first = top_up(store, writer, make_generate_run, session, leads, first_batch=True)
    second = top_up(store, writer, make_generate_run, session, [leads[1]])
    examples = sessions.get_session(store, WS_A, session.id)["generated_examples"]
    assert [(e["lead"], e["run_id"]) for e in examples] == [(leads[0], first), (leads[1], second), (leads[2], first)]
    versions = [i["sk"]["S"] for i in collection(stack, session.id) if i["sk"]["S"].startswith("EX#")]
    assert len(versions) == 3 and sum(v.endswith(second) for v in versions) == 1


def test_versions_of_a_run_that_lost_its_claim_are_never_shown_and_get_swept(
    store, stack, writer, make_session, make_generate_run, claim
):
    session = make_session()
    ann = {"first_name": "Ann", "company": "Acme"}
    old = make_generate_run(session, [ann], first_batch=True, now=1_000)  # its claim expired long ago
    workers.generate_lead(store, writer, old, 0)
    newer = top_up(store, writer, make_generate_run, session, [{"first_name": "Bo", "company": "Initech"}],
                   first_batch=True)
    assert workers.aggregate(store, old)["status"] == "FAILED"
    examples = sessions.get_session(store, WS_A, session.id)["generated_examples"]
    assert [e["run_id"] for e in examples] == [newer]
    top_up(store, writer, make_generate_run, session, [{"first_name": "Cy", "company": "Globex"}])
    versions = [i["sk"]["S"] for i in collection(stack, session.id) if i["sk"]["S"].startswith("EX#")]
    assert not [v for v in versions if v.endswith(old)] and len(versions) == 2


def test_a_top_up_past_the_example_limit_is_422_and_claims_nothing(store, writer, make_session, make_generate_run,
                                                                   monkeypatch):
    monkeypatch.setattr(runs, "MAX_EXAMPLES", 5)  # the limit's mechanism, without 1,000 examples on moto
    session = make_session()
    leads = [{"first_name": f"L{i}", "company": "Acme"} for i in range(5)]
    top_up(store, writer, make_generate_run, session, leads, first_batch=True)
    request = GenerateExamplesRequest.model_validate({"leads": [{"first_name": "One", "company": "More"}]})
    with pytest.raises(TooManyExamples) as info:
        runs.dispatch(store, RefusingSfn(), SETTINGS, SECRET, WS_A, session.id, request)
    assert (info.value.status, info.value.code) == (422, "too_many_examples")
    assert "task_status" not in store.get_session(WS_A, session.id).model_fields_set
    # Leads already present, or a first batch, still fit.
    runs._check_generate(store, WS_A, session.id, GenerateExamplesRequest.model_validate({"leads": leads[:2]}))
    fresh = GenerateExamplesRequest.model_validate({"leads": [{"first_name": "X"}], "isFirstBatch": True})
    runs._check_generate(store, WS_A, session.id, fresh)
    # At the commit too: a run that got past dispatch (the limit checked there is the real one) but would pass
    # the limit fails with its reason and leaves the examples as they were.
    monkeypatch.undo()
    monkeypatch.setattr(workers, "MAX_EXAMPLES", 5)
    before = sessions.get_session(store, WS_A, session.id)["generated_examples"]
    run_id = make_generate_run(session, [{"first_name": "One", "company": "More"}])
    workers.generate_lead(store, writer, run_id, 0)
    assert workers.aggregate(store, run_id)["status"] == "FAILED"
    assert "more than 5 examples" in store.get_run(run_id).error
    after = sessions.get_session(store, WS_A, session.id)
    assert after["generated_examples"] == before and after["task_status"] is None


def test_a_full_chat_is_422_too_many_messages_and_claims_nothing(store, writer, make_session, make_chat_run,
                                                                 monkeypatch):
    monkeypatch.setattr(runs, "MAX_MESSAGES", 6)  # the limit's mechanism, without 250 turns on moto
    session = make_session(framework=False)
    for n in range(3):
        chat(store, writer, make_chat_run, session, f"short turn {n}")
    request = ChatTurnRequest.model_validate({"message": "one more"})
    with pytest.raises(TooManyMessages) as info:
        runs.dispatch(store, RefusingSfn(), SETTINGS, SECRET, WS_A, session.id, request)
    assert (info.value.status, info.value.code) == (422, "too_many_messages")
    item = store.get_session(WS_A, session.id)
    assert "task_status" not in item.model_fields_set and item.message_count == 6
    # At the commit too: a turn that got past dispatch (the limit checked there is the real one) fails with its
    # reason and writes no message.
    monkeypatch.undo()
    monkeypatch.setattr(workers, "MAX_MESSAGES", 6)
    run_id = make_chat_run(session, "one more")
    assert workers.chat_turn(store, writer, run_id)["status"] == "FAILED"
    assert "limit of 6 messages" in store.get_run(run_id).error
    assert len(sessions.get_session(store, WS_A, session.id)["messages"]) == 6


def test_delete_removes_the_whole_collection(store, stack, writer, make_session, make_generate_run, make_chat_run):
    session = make_session()
    top_up(store, writer, make_generate_run, session, [{"first_name": "Ann"}], first_batch=True)
    chat(store, writer, make_chat_run, session, "Make it shorter.")
    assert len(collection(stack, session.id)) == 4
    sessions.delete_session(store, WS_A, session.id)
    assert collection(stack, session.id) == []


# -------------------------------------------------------------------- sizes
def test_prior_nodes_that_would_not_fit_the_run_are_422_naming_the_field(store, make_session):
    session = make_session()
    body = {"leads": [{"first_name": "Ann"}],
            "sequenceContext": {"position": 51, "prior_nodes": [{"subject": "s", "body": "y" * 9500}] * 50}}
    chat = {**body, "message": "hi"}
    for request in (GenerateExamplesRequest.model_validate(body), ChatTurnRequest.model_validate(chat)):
        with pytest.raises(TooLarge) as info:
            runs.dispatch(store, RefusingSfn(), SETTINGS, SECRET, WS_A, session.id, request)
        assert info.value.status == 422
        assert info.value.details[0]["loc"] == ["body", "sequenceContext", "prior_nodes"]
        assert "task_status" not in store.get_session(WS_A, session.id).model_fields_set


def test_a_lead_too_large_to_store_is_422_naming_it(store, make_session):
    session = make_session()
    huge = {"first_name": "Ann", "custom_fields": {f"f{i}": "😀" * 2000 for i in range(50)}}
    request = GenerateExamplesRequest.model_validate({"leads": [{"first_name": "Bo"}, huge]})
    with pytest.raises(TooLarge) as info:
        runs.dispatch(store, RefusingSfn(), SETTINGS, SECRET, WS_A, session.id, request)
    assert info.value.details[0]["loc"] == ["body", "leads", "1"]


def test_twenty_five_full_drafts_keep_the_session_item_storable(store, make_session):
    session = make_session()
    for n in range(25):
        body = f"{n} " + "é" * 19_990
        view = sessions.update_session(store, WS_A, session.id, UpdateSessionRequest(draft_body=body))
        assert view["draft_body"] == body
    assert 0 < len(view["draft_history"]) < 25  # the oldest drafts give way


# ---------------------------------------------------------- PATCH vs chat
def test_a_draft_edit_during_a_chat_turn_is_409_but_the_title_may_change(store, writer, make_session,
                                                                         make_chat_run):
    session = make_session(framework=False)
    run_id = make_chat_run(session, "We sell payroll software.")
    with pytest.raises(SessionBusy):
        sessions.update_session(store, WS_A, session.id, UpdateSessionRequest(draft_body="mine"))
    assert sessions.update_session(store, WS_A, session.id, UpdateSessionRequest(title="New"))["title"] == "New"
    workers.chat_turn(store, writer, run_id)
    view = sessions.update_session(store, WS_A, session.id, UpdateSessionRequest(draft_body="mine"))
    assert view["draft_body"] == "mine" and view["title"] == "New"


def test_the_draft_guard_holds_in_the_write_itself(store, make_session, claim):
    # A turn that claims between the PATCH's read and its write: the conditional write refuses.
    session = make_session()
    seen = store.get_session(WS_A, session.id)
    claim(session, task_status="chat_processing", require_skeleton=False)
    assert store.update_session(WS_A, session.id, {"draft_body": "late"}, expected_updated_at=seen.updated_at,
                                unless_task="chat_processing", now=now_epoch()) is None
    assert store.get_session(WS_A, session.id).draft_body == session.draft_body


# ------------------------------------------------------------------ paging
def test_a_campaign_of_120_sessions_lists_page_by_page(store):
    created = [sessions.create_session(store, WS_A, CreateSessionRequest(campaign_id="paged", node_id=f"n{i}"))
               for i in range(120)]
    sessions.create_session(store, WS_B, CreateSessionRequest(campaign_id="paged", node_id="other"))
    seen, cursor, pages = [], None, []
    while True:
        page = sessions.list_sessions(store, SECRET, WS_A, "paged", limit=50, cursor=cursor)
        pages.append(len(page["sessions"]))
        seen += page["sessions"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [50, 50, 20]
    assert [s["id"] for s in seen] == [s["id"] for s in created]
    summary = seen[0]
    assert summary["message_count"] == 0 and summary["example_count"] == 0
    assert not {"messages", "generated_examples", "skeleton_history", "draft_history"} & summary.keys()
    exact = sessions.list_sessions(store, SECRET, WS_A, "paged", limit=100, cursor=None)
    last = sessions.list_sessions(store, SECRET, WS_A, "paged", limit=20, cursor=exact["next_cursor"])
    assert len(last["sessions"]) == 20 and last["next_cursor"] is None  # an exactly full last page says so


def test_a_tampered_or_foreign_cursor_is_refused(store):
    for i in range(3):
        sessions.create_session(store, WS_A, CreateSessionRequest(campaign_id="cur", node_id=f"n{i}"))
    cursor = sessions.list_sessions(store, SECRET, WS_A, "cur", limit=1, cursor=None)["next_cursor"]
    body, _, mac = cursor.partition(".")
    tampered = [cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB"), f"{body[:-2]}xx.{mac}", "garbage", "."]
    for bad in tampered:
        with pytest.raises(InvalidCursor):
            sessions.list_sessions(store, SECRET, WS_A, "cur", limit=1, cursor=bad)
    for workspace, campaign in ((WS_B, "cur"), (WS_A, "other")):
        with pytest.raises(InvalidCursor) as info:
            sessions.list_sessions(store, SECRET, workspace, campaign, limit=1, cursor=cursor)
        assert (info.value.status, info.value.code) == (400, "invalid_cursor")


# --------------------------------------------------------------- throttling
def _sk(params: dict) -> str:
    """The sort key a request names (the resource has already put it in DynamoDB's wire form)."""
    return params["Key"]["sk"]["S"]


@pytest.fixture
def throttle(store):
    """Make DynamoDB answer chosen calls with a throttling error (the SDK's retries already spent)."""
    events = store._client.meta.events
    rules: list = []

    def hook(params, model, **kwargs):
        for rule in rules:
            if rule["op"] == model.name and rule["match"](params) and rule["times"] > 0:
                rule["times"] -= 1
                rule["hits"] += 1
                raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
                                  model.name)

    events.register("before-parameter-build.dynamodb", hook, unique_id="test-throttle")

    def add(op, match, times):
        rule = {"op": op, "match": match, "times": times, "hits": 0}
        rules.append(rule)
        return rule

    yield add
    events.unregister("before-parameter-build.dynamodb", unique_id="test-throttle")


def test_a_throttled_lease_is_transient_and_pays_no_llm_call(store, make_session, make_generate_run, throttle):
    writer = RecordingWriter()
    run_id = make_generate_run(make_session(), [{"first_name": "Ann"}])
    rule = throttle("UpdateItem", lambda p: _sk(p) == "LLM_LEASES", times=100)
    with pytest.raises(StoreThrottled):
        workers.generate_lead(store, writer, run_id, 0, llm_cap=5)
    assert rule["hits"] >= 1 and writer.email_calls == 0
    assert store.get_lead(run_id, 0).status == "pending"  # left for the state machine's retry
    rule["times"] = 0
    assert workers.generate_lead(store, writer, run_id, 0, llm_cap=5)["status"] == "completed"
    assert writer.email_calls == 1


def test_a_throttled_result_write_is_retried_without_paying_the_llm_twice(store, make_session, make_generate_run,
                                                                          throttle):
    writer = RecordingWriter()
    run_id = make_generate_run(make_session(), [{"first_name": "Ann"}])
    rule = throttle("UpdateItem", lambda p: _sk(p).startswith("LEAD#"), times=2)
    assert workers.generate_lead(store, writer, run_id, 0)["status"] == "completed"
    assert rule["hits"] == 2 and writer.email_calls == 1
    assert store.get_lead(run_id, 0).status == "completed"


def test_the_state_machine_retries_throttling_of_a_lead():
    from local.cfn import ROOT

    definition = json.loads((ROOT / "statemachines" / "generate_examples.asl.json").read_text().replace(
        "${LeadConcurrency}", "1").replace("${RunTimeoutSeconds}", "1"))
    retry = definition["States"]["GenerateEachLead"]["ItemProcessor"]["States"]["GenerateLead"]["Retry"]
    assert any(StoreThrottled.__name__ in r["ErrorEquals"] for r in retry)


# Last in the module: the largest table.
def test_five_hundred_lead_top_ups_keep_every_example_in_order(store, stack, writer, make_session,
                                                               make_generate_run):
    session = make_session()
    sent = []
    for batch in range(5):
        leads = [{"first_name": f"B{batch}L{i}", "company": "Acme"} for i in range(100)]
        top_up(store, writer, make_generate_run, session, leads, first_batch=batch == 0)
        sent += leads
    view = sessions.get_session(store, WS_A, session.id)
    assert [e["lead"] for e in view["generated_examples"]] == sent
    assert all(e["status"] == "completed" for e in view["generated_examples"])
    # The session item holds a manifest, not the examples: it stays far below the 400 KB limit.
    items = collection(stack, session.id)
    session_item = next(i for i in items if i["sk"]["S"] == "SESSION")
    assert item_bytes(session_item) < 60_000
    assert len([i for i in items if i["sk"]["S"].startswith("EX#")]) == 500


def test_a_session_stored_the_old_way_keeps_its_messages_and_examples(store, stack, writer, make_session,
                                                                      make_chat_run):
    # Before messages and examples were their own items, the session item held both lists inline.
    session = make_session()
    old_messages = [{"role": "user", "content": "Hello", "created_at": "2025-01-01T00:00:00.000Z"},
                    {"role": "assistant", "content": "Hi!", "created_at": "2025-01-01T00:00:01.000Z"}]
    old_examples = [{"lead_id": f"lead_{i}", "lead": {"first_name": f"Old{i}"}, "subject": "S", "body": "B",
                     "status": "completed", "error": None, "run_id": "run_" + "0" * 24, "framework_version": 1,
                     "created_at": "2025-01-01T00:00:00.000Z"} for i in range(3)]
    stack.boto.resource("dynamodb").Table(stack.table_name).update_item(
        Key={"pk": f"S#{session.id}", "sk": "SESSION"},
        UpdateExpression="SET messages = :m, generated_examples = :e REMOVE message_count, example_manifest",
        ExpressionAttributeValues={":m": old_messages, ":e": old_examples},
    )
    view = sessions.get_session(store, WS_A, session.id)
    assert view["messages"] == old_messages and view["generated_examples"] == old_examples
    chat(store, writer, make_chat_run, session, "Now shorter.")
    view = sessions.get_session(store, WS_A, session.id)
    assert view["messages"][:2] == old_messages and len(view["messages"]) == 4
    assert view["generated_examples"] == old_examples
