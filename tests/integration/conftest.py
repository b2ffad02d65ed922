"""The real DynamoDB store on moto, with the table built from template.yaml by the local stack."""

from __future__ import annotations

import contextlib
import json
from types import SimpleNamespace

import pytest

from local.stack import LocalStack
from outreach import clock
from outreach.clock import new_run_id, now_epoch
from outreach.config import function_environment
from outreach.dal.dynamodb import run_key
from outreach.llm.offline import OfflineWriter
from outreach.logic import runs, sessions
from outreach.logic.auth import service_secret
from outreach.models.items import SessionItem
from outreach.models.requests import ChatTurnRequest, CreateSessionRequest, GenerateExamplesRequest

WS_A, WS_B = "ws_a", "ws_b"
SKELETON = {
    "goal": "Book a discovery call about payroll automation.",
    "audience": "Finance leaders",
    "tone": "warm and direct",
    "sections": [{"name": "opener", "guidance": "Mention their role at the company."}],
    "personalization": ["first_name", "company", "position"],
    "call_to_action": "a 15-minute call next week",
    "max_words": 120,
}
DRAFT_SUBJECT = "A quick idea for %company%"
DRAFT_BODY = "Hi %first_name%,\n\nI came across your work as %position% at %company%.\n\nBest regards"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    local = LocalStack(
        state_dir=tmp_path_factory.mktemp("state"), env={"LOCAL_API_KEYS": "ws_a:key-a,ws_b:key-b"}
    ).start()
    yield local
    local.stop()


@pytest.fixture(scope="module")
def store(stack):
    with function_environment(stack.functions["ApiFunction"].environment):
        from outreach import runtime

        runtime.reset()
        return runtime.store()


@pytest.fixture
def writer():
    return OfflineWriter()


def raw_session(stack, session_id: str) -> dict | None:
    """The session item as DynamoDB holds it, whatever its workspace (None when there is no item)."""
    out = stack.client("dynamodb").get_item(
        TableName=stack.table_name, Key={"pk": {"S": f"S#{session_id}"}, "sk": {"S": "SESSION"}}, ConsistentRead=True
    )
    return out.get("Item")


@pytest.fixture
def make_session(store):
    """A new session of a workspace, optionally with a framework (skeleton and draft), as the API creates it."""

    def make(workspace: str = WS_A, *, framework: bool = True, title: str | None = "Q3 outbound",
             **fields) -> SessionItem:
        session = sessions.create_session(
            store, workspace, CreateSessionRequest(campaign_id="camp-1", node_id="node-1", title=title)
        )
        if framework:
            fields = {"skeleton": SKELETON, "draft_subject": DRAFT_SUBJECT, "draft_body": DRAFT_BODY,
                      "framework_version": 1, **fields}
        if fields:
            updated = store.update_session(workspace, session["id"], fields,
                                           expected_updated_at=session["updated_at"])
            assert updated is not None
            return updated
        return store.get_session(workspace, session["id"])

    return make


@pytest.fixture
def claim(store):
    def do(session: SessionItem, workspace: str = WS_A, *, task_status: str = "generating_examples",
           run_id: str | None = None, now: int | None = None, ttl: int = 900, require_skeleton: bool = True) -> str:
        run_id = run_id or new_run_id()
        now = now_epoch() if now is None else now
        store.claim_session(workspace, session.id, task_status=task_status, run_id=run_id, now=now,
                            expires_at=now + ttl, require_skeleton=require_skeleton)
        return run_id

    return do


@pytest.fixture(scope="module")
def dispatch(stack):
    """What the API hands runs.dispatch_*: settings, a Step Functions client, the service secret.

    The state machine ARNs point at a one-state (Pass) machine on moto, so a dispatched run is recorded and its
    execution started exactly as the API does it, while the test drives the workers itself, step by step.
    """
    sfn = stack.client("stepfunctions")
    recorder = sfn.create_state_machine(
        name="RecordedRuns",
        definition=json.dumps({"StartAt": "Recorded", "States": {"Recorded": {"Type": "Pass", "End": True}}}),
        roleArn="arn:aws:iam::123456789012:role/recorded-runs",
    )["stateMachineArn"]
    environment = {**stack.functions["ApiFunction"].environment,
                   "GENERATE_EXAMPLES_STATE_MACHINE_ARN": recorder, "CHAT_TURN_STATE_MACHINE_ARN": recorder}
    with function_environment(environment):
        from outreach import runtime

        s = runtime.settings()
        return SimpleNamespace(settings=s, sfn=sfn, secret=service_secret(s), state_machine_arn=recorder,
                               dynamodb=stack.client("dynamodb"), table_name=stack.table_name)


def to_key(key: dict[str, str]) -> dict[str, dict[str, str]]:
    return {name: {"S": value} for name, value in key.items()}


def _at(now: int | None):
    """The service's clock at ``now`` (epoch seconds), or the real one."""
    return clock.reading(lambda: float(now)) if now is not None else contextlib.nullcontext()


@pytest.fixture
def make_generate_run(store, dispatch):
    """A generate run dispatched as the API does it (runs.dispatch): claim, run record, lead items."""

    def make(session: SessionItem, leads: list[dict], *, workspace: str = WS_A, first_batch: bool = False,
             sequence_context: dict | None = None, now: int | None = None, with_roster: bool = True) -> str:
        body = {"leads": leads, "isFirstBatch": first_batch}
        if sequence_context is not None:
            body["sequenceContext"] = sequence_context
        with _at(now):
            out = runs.dispatch(store, dispatch.sfn, dispatch.settings, dispatch.secret, workspace,
                                         session.id, GenerateExamplesRequest.model_validate(body))
        if not with_roster:  # a run dispatched before runs carried a roster
            dispatch.dynamodb.update_item(TableName=dispatch.table_name, Key=to_key(run_key(out["runId"])),
                                          UpdateExpression="REMOVE roster")
        return out["runId"]

    return make


@pytest.fixture
def make_chat_run(store, dispatch):
    """A chat-turn run dispatched as the API does it (runs.dispatch)."""

    def make(session: SessionItem, message: str, *, workspace: str = WS_A, available: list[str] | None = None) -> str:
        body = {
            "message": message,
            "availableVarNames": available if available is not None else ["first_name", "company"],
            "sampleLeads": [{"first_name": "Ann", "company": "Acme"}],
        }
        out = runs.dispatch(store, dispatch.sfn, dispatch.settings, dispatch.secret, workspace,
                                      session.id, ChatTurnRequest.model_validate(body))
        return out["runId"]

    return make
