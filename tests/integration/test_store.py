"""The session claim and the run records on the real DynamoDB store (moto, table from template.yaml)."""

import json
import threading

import pytest
from pydantic import ValidationError

from outreach.clock import new_run_id, now_epoch
from outreach.dal.dynamodb import RunAlreadyFinished
from outreach.errors import ClaimLost, NoFramework, SessionBusy, SessionNotFound
from outreach.logic import sessions
from outreach.models.requests import GenerateExamplesRequest
from tests.integration.conftest import WS_A, WS_B, raw_session


def claim_args(run_id=None, now=None, ttl=900, require_skeleton=True, task_status="generating_examples"):
    now = now_epoch() if now is None else now
    return {"task_status": task_status, "run_id": run_id or new_run_id(), "now": now, "expires_at": now + ttl,
            "require_skeleton": require_skeleton}


# ------------------------------------------------------------------- claim
def test_claim_idle_session_with_skeleton(store, make_session):
    session = make_session()
    args = claim_args()
    claimed = store.claim_session(WS_A, session.id, **args)
    # The claim answers the session as claimed: the framework the run is grounded in, held by this run.
    assert (claimed.skeleton, claimed.draft_body) == (session.skeleton, session.draft_body)
    assert (claimed.task_status, claimed.task_run_id) == ("generating_examples", args["run_id"])
    stored = store.get_session(WS_A, session.id)
    assert stored.task_status == "generating_examples" and stored.task_run_id == args["run_id"]
    assert sessions.get_session(store, WS_A, session.id)["task_status"] == "generating_examples"


def test_second_claim_is_busy(store, make_session, claim):
    session = make_session()
    first = claim(session)
    for task_status, require_skeleton in (("generating_examples", True), ("chat_processing", False)):
        with pytest.raises(SessionBusy) as info:
            store.claim_session(WS_A, session.id, **claim_args(task_status=task_status,
                                                                   require_skeleton=require_skeleton))
        assert info.value.status == 409
        assert info.value.code == "session_busy"
        assert "generating_examples" in info.value.message
    assert store.get_session(WS_A, session.id).task_run_id == first


def test_chat_claim_blocks_generate(store, make_session, claim):
    session = make_session()
    claim(session, task_status="chat_processing", require_skeleton=False)
    with pytest.raises(SessionBusy):
        store.claim_session(WS_A, session.id, **claim_args())


def test_claim_unknown_session_not_found(store):
    with pytest.raises(SessionNotFound) as info:
        store.claim_session(WS_A, "00000000-0000-0000-0000-000000000000", **claim_args())
    assert info.value.status == 404


def test_claim_does_not_create_a_missing_session(store, stack):
    session_id = "ffffffff-ffff-ffff-ffff-ffffffffffff"
    with pytest.raises(SessionNotFound):
        store.claim_session(WS_A, session_id, **claim_args(require_skeleton=False))
    assert raw_session(stack, session_id) is None


def test_claim_other_workspace_session_not_found_and_untouched(store, make_session):
    session = make_session(WS_A)
    for require_skeleton in (True, False):
        with pytest.raises(SessionNotFound):
            store.claim_session(WS_B, session.id, **claim_args(require_skeleton=require_skeleton))
    after = store.get_session(WS_A, session.id)
    assert not {"task_status", "task_run_id"} & after.model_fields_set
    assert store.get_session(WS_B, session.id) is None


def test_other_workspace_busy_session_still_not_found(store, make_session, claim):
    session = make_session(WS_A)
    claim(session)
    with pytest.raises(SessionNotFound):
        store.claim_session(WS_B, session.id, **claim_args())


def test_generate_claim_without_skeleton_is_no_framework(store, make_session):
    session = make_session(framework=False)
    with pytest.raises(NoFramework) as info:
        store.claim_session(WS_A, session.id, **claim_args())
    assert info.value.status == 400 and info.value.code == "no_framework"
    assert "task_status" not in store.get_session(WS_A, session.id).model_fields_set
    # a chat turn needs no skeleton
    chat = claim_args(task_status="chat_processing", require_skeleton=False)
    store.claim_session(WS_A, session.id, **chat)
    assert store.get_session(WS_A, session.id).task_run_id == chat["run_id"]


def test_busy_comes_before_no_framework(store, make_session, claim):
    session = make_session(framework=False)
    claim(session, task_status="chat_processing", require_skeleton=False)
    with pytest.raises(SessionBusy):
        store.claim_session(WS_A, session.id, **claim_args())


def test_expired_claim_can_be_taken_by_a_new_run(store, make_session, claim):
    session = make_session()
    now = now_epoch()
    old = claim(session, now=now - 1000, ttl=900)  # expired 100 s ago
    assert sessions.get_session(store, WS_A, session.id)["task_status"] is None  # shows as idle
    new = claim_args(now=now)
    store.claim_session(WS_A, session.id, **new)
    assert store.get_session(WS_A, session.id).task_run_id == new["run_id"] != old
    assert sessions.get_session(store, WS_A, session.id)["task_status"] == "generating_examples"


def test_unexpired_claim_of_a_crashed_run_still_blocks(store, make_session, claim):
    session = make_session()
    now = now_epoch()
    claim(session, now=now - 800, ttl=900)  # 100 s left
    with pytest.raises(SessionBusy):
        store.claim_session(WS_A, session.id, **claim_args(now=now))


def test_expired_claim_without_skeleton_is_no_framework(store, make_session, claim):
    session = make_session(framework=False)
    claim(session, task_status="chat_processing", require_skeleton=False, now=now_epoch() - 1000, ttl=900)
    with pytest.raises(NoFramework):
        store.claim_session(WS_A, session.id, **claim_args())


def test_release_only_by_the_holding_run(store, make_session, claim):
    session = make_session()
    holder = claim(session)
    assert store.release_claim(session.id, new_run_id()) is False
    assert store.get_session(WS_A, session.id).task_run_id == holder
    assert store.release_claim(session.id, holder) is True
    item = store.get_session(WS_A, session.id)
    assert not {"task_status", "task_run_id", "task_expires_at"} & item.model_fields_set
    assert sessions.get_session(store, WS_A, session.id)["task_status"] is None
    assert store.release_claim(session.id, holder) is False  # already free
    claim(session)  # free again for the next run


def test_release_by_an_overtaken_run_keeps_the_new_claim(store, make_session, claim):
    session = make_session()
    old = claim(session, now=now_epoch() - 1000, ttl=900)
    new = claim(session)
    assert store.release_claim(session.id, old) is False
    assert store.get_session(WS_A, session.id).task_run_id == new


def test_release_of_a_deleted_session_does_not_recreate_it(store, stack, make_session, claim):
    session = make_session()
    holder = claim(session)
    assert store.delete_session(WS_A, session.id)
    assert store.release_claim(session.id, holder) is False
    assert raw_session(stack, session.id) is None


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_claims_have_exactly_one_winner(store, make_session, round_):
    session = make_session()
    threads, barrier = 12, threading.Barrier(12)
    won, busy, other = [], [], []

    def attempt():
        args = claim_args()
        barrier.wait()
        try:
            store.claim_session(WS_A, session.id, **args)
            won.append(args["run_id"])
        except SessionBusy:
            busy.append(args["run_id"])
        except Exception as error:  # noqa: BLE001 - anything else is a failure of the test
            other.append(error)

    workers = [threading.Thread(target=attempt) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(30)
    assert other == []
    assert len(won) == 1 and len(busy) == threads - 1
    assert store.get_session(WS_A, session.id).task_run_id == won[0]


# -------------------------------------------------------- session records
def test_session_round_trips_with_workspace_scoping(store, make_session):
    session = make_session(title="שלום 🚀")
    view = sessions.get_session(store, WS_A, session.id)
    assert view["title"] == "שלום 🚀"
    assert view["skeleton"]["max_words"] == 120 and isinstance(view["skeleton"]["max_words"], int)
    assert view["task_status"] is None and view["generated_examples"] == []
    assert not {"pk", "sk", "workspace_id", "task_run_id", "gsi1pk"} & view.keys()
    with pytest.raises(SessionNotFound):
        sessions.get_session(store, WS_B, session.id)
    assert store.delete_session(WS_B, session.id) is False
    assert store.get_session(WS_A, session.id) is not None


# ------------------------------------------------------------- run records
def test_run_and_leads_round_trip(store, make_session, make_generate_run):
    session = make_session()
    leads = [{"first_name": f"Lead{i}", "company": "Acme", "custom_fields": {"score": 4.5, "n": 3, "ok": True}}
             for i in range(30)]
    run_id = make_generate_run(session, leads, sequence_context={"position": 2, "total_nodes": 3, "prior_nodes": []})
    run = store.get_run(run_id)
    assert run.status == "QUEUED" and run.total == 30
    assert run.context.skeleton == session.skeleton
    assert run.context.sequence_context["position"] == 2
    items = store.get_run_leads(run_id)
    assert [i.index for i in items] == list(range(30))  # numeric order, not text order
    assert [i.lead for i in items] == leads
    assert store.get_lead(run_id, 7).lead == leads[7]
    assert store.get_lead(run_id, 30) is None


@pytest.mark.parametrize("raw", ["250", "4.5", "0.30000000000000004", "-17", "true", "null", '"fintech 🚀"'])
def test_custom_field_scalars_round_trip_exactly(store, make_session, make_generate_run, raw):
    sent = GenerateExamplesRequest.model_validate(
        json.loads('{"leads": [{"first_name": "Ann", "custom_fields": {"x": %s}}]}' % raw)
    ).leads[0].as_sent()
    run_id = make_generate_run(make_session(), [sent])
    stored = store.get_lead(run_id, 0).lead
    assert stored == sent
    assert type(stored["custom_fields"]["x"]) is type(sent["custom_fields"]["x"])


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "1e300", "1e-200", "12345678901234567890123456789012345678901"])
def test_every_lead_the_api_accepts_can_be_stored(store, make_session, make_generate_run, raw):
    # The API parses bodies with json.loads; a lead it accepts must not fail when the run is recorded.
    body = json.loads('{"leads": [{"first_name": "Ann", "custom_fields": {"x": %s}}]}' % raw)
    try:
        request = GenerateExamplesRequest.model_validate(body)
    except ValidationError:
        return  # refused at the door: a 422, which is fine
    run_id = make_generate_run(make_session(), [request.leads[0].as_sent()])
    assert store.get_lead(run_id, 0).lead["first_name"] == "Ann"


def test_record_lead_writes_once(store, make_session, make_generate_run):
    session = make_session()
    run_id = make_generate_run(session, [{"first_name": "Ann"}])
    assert store.record_lead(run_id, 0, {"status": "completed", "subject": "S1", "body": "B1"}) is True
    assert store.record_lead(run_id, 0, {"status": "failed", "error": "late"}) is False
    lead = store.get_lead(run_id, 0)
    assert (lead.status, lead.subject, lead.body) == ("completed", "S1", "B1")
    assert "error" not in lead.model_fields_set


def test_run_executing_and_final_status_guarded(store, make_session, make_generate_run):
    session = make_session()
    run_id = make_generate_run(session, [{"first_name": "Ann"}])
    store.mark_run_executing(run_id, "2025-01-01T00:00:00.000Z")
    store.mark_run_executing(run_id, "2025-01-02T00:00:00.000Z")  # a second lead starting changes nothing
    run = store.get_run(run_id)
    assert run.status == "EXECUTING" and run.started_at == "2025-01-01T00:00:00.000Z"
    assert store.fail_run(run_id, {"status": "FAILED", "error": "boom"}) is True
    assert store.fail_run(run_id, {"status": "FAILED", "error": "again"}) is False
    store.mark_run_executing(run_id, "2025-01-03T00:00:00.000Z")
    run = store.get_run(run_id)
    assert (run.status, run.error) == ("FAILED", "boom")


# ----------------------------------------------- finishing a run with its session
# The workers check the claim before writing, but another run can take the session in between:
# the transaction itself must refuse, or a late finisher would overwrite the newer run's session.
def test_finish_writes_session_frees_it_and_completes_run(store, make_session, make_generate_run):
    session = make_session()
    run_id = make_generate_run(session, [{"first_name": "Ann"}])
    store.finish_run_with_session(run_id, session.id, {"title": "done", "score": 1.5},
                                  {"status": "COMPLETED", "finished_at": "2025-01-01T00:00:00.000Z"})
    item = store.get_session(WS_A, session.id)
    assert (item.title, item.model_extra["score"]) == ("done", 1.5)
    assert not {"task_status", "task_run_id", "task_expires_at"} & item.model_fields_set
    assert store.get_run(run_id).status == "COMPLETED"
    with pytest.raises(RunAlreadyFinished):
        store.finish_run_with_session(run_id, session.id, {"title": "again"}, {"status": "COMPLETED"})
    assert store.get_session(WS_A, session.id).title == "done"


def test_finish_by_a_run_that_lost_the_claim_writes_nothing(store, make_session, make_generate_run, claim):
    session = make_session()
    old = make_generate_run(session, [{"first_name": "Ann"}], now=now_epoch() - 1000)
    newer = claim(session)
    before = store.get_session(WS_A, session.id)
    with pytest.raises(ClaimLost):
        store.finish_run_with_session(old, session.id, {"title": "stale"}, {"status": "COMPLETED"})
    assert store.get_session(WS_A, session.id) == before
    assert before.task_run_id == newer
    assert store.get_run(old).status == "QUEUED"  # all or nothing


def test_finish_on_a_deleted_session_does_not_recreate_it(store, stack, make_session, make_generate_run):
    session = make_session()
    run_id = make_generate_run(session, [{"first_name": "Ann"}])
    store.delete_session(WS_A, session.id)
    with pytest.raises(ClaimLost):
        store.finish_run_with_session(run_id, session.id, {"title": "ghost"}, {"status": "COMPLETED"})
    assert raw_session(stack, session.id) is None


# --------------------------------------------------------------- LLM slots
def test_llm_slots_are_capped_per_workspace_released_and_expire(store):
    import time as _time

    now = int(_time.time())
    take = lambda ws, lease, exp=now + 60: store.acquire_llm_slot(ws, lease, cap=2, now=now, expires_at=exp)  # noqa: E731
    assert take("ws_cap", "r:0") and take("ws_cap", "r:1")
    assert not take("ws_cap", "r:2"), "a third call over the cap waits"
    assert take("ws_other", "r:0"), "another workspace has its own slots"
    store.release_llm_slot("ws_cap", "r:0")
    assert take("ws_cap", "r:2")
    store.release_llm_slot("ws_cap", "r:1")
    store.release_llm_slot("ws_cap", "r:2")
    assert take("ws_exp", "dead:0", now - 5) and take("ws_exp", "dead:1", now - 5)
    assert take("ws_exp", "live:0"), "leases of crashed workers expire"


def test_a_dispatched_run_starts_its_execution_with_indexes_only(store, dispatch, make_session, make_generate_run):
    session = make_session()
    run_id = make_generate_run(session, [{"first_name": "Ann", "company": "Acme"}, {"full_name": "Bo Diaz"}])
    executions = dispatch.sfn.list_executions(stateMachineArn=dispatch.state_machine_arn)["executions"]
    (execution,) = [e for e in executions if e["name"] == run_id]
    started = dispatch.sfn.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(started["input"]) == {"run_id": run_id, "lead_indexes": [0, 1]}, "no lead data in the input"
