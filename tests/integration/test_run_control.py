"""Cancel and the run version on the real store (moto): what a canceled run's late steps may still write."""

import pytest

from outreach.config import function_environment
from outreach.logic import cancel, runs, workers
from outreach.logic.progress import current_version
from tests.integration.conftest import WS_A, WS_B
from tests.integration.test_workers import ANN, BO, CY, is_free, run_all


class CancelDuringCall:
    """A writer whose call is in flight when the run is canceled: the cancel lands mid-call, as a user's would."""

    def __init__(self, writer, on_call):
        self.writer, self.on_call = writer, on_call

    def write_email(self, prompt):
        self.on_call()
        return self.writer.write_email(prompt)

    def framework_turn(self, prompt):
        self.on_call()
        return self.writer.framework_turn(prompt)


@pytest.fixture
def cancel_run(stack, store):
    def do(run_id, workspace=WS_A):
        api = stack.functions["ApiFunction"].environment
        with function_environment(api):
            from outreach.config import settings

            return cancel.cancel_run(store, stack.client("stepfunctions"), settings(), workspace, run_id)

    return do


def test_a_lead_whose_llm_call_outlives_the_cancel_records_nothing(store, writer, make_session, make_generate_run,
                                                                     cancel_run):
    session = make_session()
    earlier = make_generate_run(session, [ANN], first_batch=True)
    run_all(store, writer, earlier, 1)
    workers.aggregate(store, earlier)
    before = store.read_session(WS_A, session.id)

    run_id = make_generate_run(session, [BO, CY], first_batch=True)
    workers.generate_lead(store, writer, run_id, 0)  # lead 0 lands before the cancel
    late = CancelDuringCall(writer, lambda: cancel_run(run_id))
    assert workers.generate_lead(store, late, run_id, 1)["status"] == "completed"  # it thinks it wrote

    lead = store.get_lead(run_id, 1)
    assert lead.status == "canceled" and "subject" not in lead.model_fields_set
    assert workers.aggregate(store, run_id)["status"] == "CANCELED"
    workers.fail_and_release(store, run_id, "The run was stopped (aborted).")  # the ABORTED execution's release
    run = store.get_run(run_id)
    assert run.status == "CANCELED" and run.error == cancel.CANCELED_MESSAGE
    after = store.read_session(WS_A, session.id)
    assert after.generated_examples == before.generated_examples and is_free(store, session.id)
    view = runs.run_view(store, run)
    assert view["progress"] == {"total": 2, "completed": 1, "failed": 0}
    assert [e["lead"] for e in view["examples"]] == [BO]


def test_a_chat_turn_canceled_during_its_llm_call_leaves_the_conversation(store, writer, make_session,
                                                                          make_chat_run, cancel_run):
    session = make_session()
    before = store.read_session(WS_A, session.id)
    run_id = make_chat_run(session, "Make it shorter.")
    late = CancelDuringCall(writer, lambda: cancel_run(run_id))
    workers.chat_turn(store, late, run_id)
    after = store.read_session(WS_A, session.id)
    for field in ("messages", "skeleton", "draft_subject", "draft_body", "framework_version", "updated_at"):
        assert getattr(after, field) == getattr(before, field), field
    assert is_free(store, session.id) and store.get_run(run_id).status == "CANCELED"


def test_cancel_releases_only_its_own_claim_and_refuses_finished_and_foreign_runs(store, writer, make_session,
                                                                                    make_generate_run, claim,
                                                                                    cancel_run):
    session = make_session()
    run_id = make_generate_run(session, [ANN])
    with pytest.raises(cancel.RunNotFound):
        cancel_run(run_id, workspace=WS_B)
    assert store.get_run(run_id).status == "QUEUED"
    cancel_run(run_id)
    with pytest.raises(cancel.RunFinished) as info:
        cancel_run(run_id)
    assert info.value.status == 409 and info.value.body()["status"] == "CANCELED"

    newer = claim(session)  # the next task on the session, right after the cancel
    workers.fail_and_release(store, run_id, "late release")
    assert store.get_session(WS_A, session.id).task_run_id == newer


def test_the_version_grows_with_each_lead_and_status_and_never_goes_back(store, writer, make_session,
                                                                         make_generate_run):
    session = make_session()
    run_id = make_generate_run(session, [ANN, BO, CY])
    seen = [current_version(store, store.get_run(run_id))]
    for index in range(3):
        workers.generate_lead(store, writer, run_id, index)
        seen.append(current_version(store, store.get_run(run_id)))
    workers.aggregate(store, run_id)
    final = store.get_run(run_id)
    seen.append(current_version(store, final))
    # 1 new; lead 0 lands and the run turns EXECUTING (+2); leads 1 and 2 (+1 each); COMPLETED (+1)
    assert seen == [1, 3, 4, 5, 6]
    assert runs.run_view(store, final)["version"] == 6
