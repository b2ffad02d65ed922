"""The real DynamoDB store on moto, with the table built from template.yaml by the local stack."""

from __future__ import annotations

import pytest

from local.stack import LocalStack
from outreach.clock import new_run_id, now_epoch, now_iso
from outreach.llm.offline import OfflineWriter
from outreach.logic import sessions
from outreach.logic.leads import lead_id
from outreach.logic.review import roster
from outreach.models.requests import CreateSessionRequest

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
    from outreach.config import function_environment

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

    def make(workspace: str = WS_A, *, framework: bool = True, title: str | None = "Q3 outbound", **fields) -> dict:
        session = sessions.create_session(
            store, workspace, CreateSessionRequest(campaign_id="camp-1", node_id="node-1", title=title)
        )
        if framework:
            fields = {"skeleton": SKELETON, "draft_subject": DRAFT_SUBJECT, "draft_body": DRAFT_BODY,
                      "framework_version": 1, **fields}
        if fields:
            updated = store.update_session(workspace, session["id"], fields, expected_updated_at=session["updated_at"])
            assert updated is not None
            return updated
        return store.get_session(workspace, session["id"])

    return make


@pytest.fixture
def claim(store):
    def do(session: dict, workspace: str = WS_A, *, task_status: str = "generating_examples", run_id: str | None = None,
           now: int | None = None, ttl: int = 900, require_skeleton: bool = True) -> str:
        run_id = run_id or new_run_id()
        now = now_epoch() if now is None else now
        store.claim_session(workspace, session["id"], task_status=task_status, run_id=run_id, now=now,
                            expires_at=now + ttl, require_skeleton=require_skeleton)
        return run_id

    return do


@pytest.fixture
def make_generate_run(store, claim):
    """Claim the session and record a generate run, in the shapes runs.dispatch_generate builds."""

    def make(session: dict, leads: list[dict], *, workspace: str = WS_A, first_batch: bool = False,
             sequence_context: dict | None = None, run_id: str | None = None, claimed: bool = True,
             now: int | None = None, ttl: int = 900, with_roster: bool = True) -> str:
        if claimed:
            run_id = claim(session, workspace, run_id=run_id, now=now, ttl=ttl)
        run_id = run_id or new_run_id()
        expires = now_epoch() + 7 * 86400
        items = [{"index": i, "lead": lead, "lead_id": lead_id(lead), "status": "pending", "expires_at": expires}
                 for i, lead in enumerate(leads)]
        store.create_run(
            {
                "id": run_id,
                "kind": "generate_examples",
                "status": "QUEUED",
                "session_id": session["id"],
                "workspace_id": workspace,
                "created_at": now_iso(),
                "finished_at": None,
                "expires_at": expires,
                "total": len(items),
                "roster": roster(leads) if with_roster else None,  # None: a run dispatched before rosters
                "context": {
                    "skeleton": session.get("skeleton"),
                    "draft_subject": session.get("draft_subject"),
                    "draft_body": session.get("draft_body"),
                    "framework_version": session.get("framework_version", 0),
                    "sequence_context": sequence_context,
                    "is_first_batch": first_batch,
                },
            },
            items,
        )
        return run_id

    return make


@pytest.fixture
def make_chat_run(store, claim):
    """Claim the session and record a chat-turn run, in the shapes runs.dispatch_chat_turn builds."""

    def make(session: dict, message: str, *, workspace: str = WS_A, available: list[str] | None = None) -> str:
        run_id = claim(session, workspace, task_status="chat_processing", require_skeleton=False)
        store.create_run(
            {
                "id": run_id,
                "kind": "chat_turn",
                "status": "QUEUED",
                "session_id": session["id"],
                "workspace_id": workspace,
                "created_at": now_iso(),
                "finished_at": None,
                "expires_at": now_epoch() + 7 * 86400,
                "total": 1,
                "context": {
                    "message": message,
                    "message_created_at": now_iso(),
                    "available_var_names": available if available is not None else ["first_name", "company"],
                    "sample_leads": [{"first_name": "Ann", "company": "Acme"}],
                    "sequence_context": None,
                },
            },
            [],
        )
        return run_id

    return make
