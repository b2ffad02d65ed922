"""Every route of CONTRACT.md through the HTTP front: answers, errors, workspaces, tokens."""

import time
import uuid
from pathlib import Path

import jwt
import pytest

from outreach.logic.auth import issue_run_token
from tests.client import SESSIONS, ApiClient

LEAD = {"first_name": "Ann", "company": "Acme", "linkedin_url": "https://www.linkedin.com/in/ann"}


def assert_error(answer, status, code=None):
    assert answer.status == status, (answer.status, answer.body)
    assert isinstance(answer.body, dict) and isinstance(answer.body.get("error"), str) and answer.body["error"]
    assert isinstance(answer.body.get("code"), str)
    if code:
        assert answer.body["code"] == code, answer.body


# ------------------------------------------------------------------ auth
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Token key-workspace-a"}, {"Authorization": "Bearer "}],
)
def test_session_routes_need_a_known_api_key(stack, headers):
    anonymous = ApiClient(stack.url, None)
    calls = [("GET", f"{SESSIONS}?campaign_id=c"), ("POST", SESSIONS), ("GET", f"{SESSIONS}/{uuid.uuid4()}")]
    for method, path in calls:
        assert_error(anonymous.call(method, path, {"campaign_id": "c", "node_id": "n"}, headers=headers), 401)


def test_unauthenticated_bad_input_is_401_not_422(stack):
    anonymous = ApiClient(stack.url, None)
    assert_error(anonymous.call("POST", SESSIONS, {"nonsense": True}), 401)


# -------------------------------------------------------------- sessions
def test_create_then_get_a_session(api):
    created = api.create_session(campaign_id="cmp_x", node_id="node_9", title="Hello")
    assert uuid.UUID(created["id"]).version == 4
    assert created["campaign_id"] == "cmp_x" and created["node_id"] == "node_9" and created["title"] == "Hello"
    assert created["messages"] == [] and created["skeleton"] is None and created["generated_examples"] == []
    assert created["skeleton_history"] == [] and created["draft_history"] == []
    assert created["draft_subject"] is None and created["draft_body"] is None
    assert created["framework_version"] == 0 and created["task_status"] is None
    assert created["created_at"].endswith("Z") and created["updated_at"] == created["created_at"]
    fetched = api.session(created["id"])
    assert fetched.status == 200 and fetched.body == created


def test_title_is_optional(api):
    answer = api.call("POST", SESSIONS, {"campaign_id": "c", "node_id": "n"})
    assert answer.status == 201 and answer.body["title"] is None


@pytest.mark.parametrize(
    "body",
    [{}, {"campaign_id": "c"}, {"node_id": "n"}, {"campaign_id": "", "node_id": "n"},
     {"campaign_id": 5, "node_id": "n"}, [], "text"],
)
def test_create_with_bad_bodies_is_422_with_details(api, body):
    answer = api.call("POST", SESSIONS, body)
    assert_error(answer, 422, "validation_error")
    assert answer.body["details"] and all("loc" in d and "msg" in d for d in answer.body["details"])


def test_invalid_json_is_400(api):
    assert_error(api.call("POST", SESSIONS, raw=b'{"campaign_id": '), 400, "invalid_json")


def test_a_body_over_one_mebibyte_is_413(api):
    session = api.session_with_framework()
    big = [{**LEAD, "headline": "x" * 1900, "custom_fields": {f"k{i}": "y" * 1900 for i in range(10)}}] * 60
    answer = api.generate(session["id"], big)
    assert_error(answer, 413, "payload_too_large")
    assert api.session(session["id"]).body["task_status"] is None


def test_list_needs_campaign_id_and_lists_in_creation_order(api, api_b):
    assert_error(api.call("GET", SESSIONS), 400)
    campaign = f"cmp_{uuid.uuid4().hex[:8]}"
    ids = [api.create_session(campaign_id=campaign)["id"] for _ in range(3)]
    api.create_session(campaign_id="other")
    api_b.create_session(campaign_id=campaign)
    listed = api.call("GET", f"{SESSIONS}?campaign_id={campaign}")
    assert listed.status == 200
    assert [s["id"] for s in listed.body["sessions"]] == ids


def test_patch_changes_only_the_named_fields_and_keeps_draft_history(api):
    session = api.create_session(title="Before")
    one = api.call("PATCH", f"{SESSIONS}/{session['id']}", {"draft_subject": "S1", "draft_body": "B1"})
    assert one.status == 200 and one.body["title"] == "Before" and one.body["draft_subject"] == "S1"
    two = api.call("PATCH", f"{SESSIONS}/{session['id']}", {"draft_body": "B2", "title": None})
    assert two.status == 200
    assert two.body["title"] is None and two.body["draft_subject"] == "S1" and two.body["draft_body"] == "B2"
    assert two.body["draft_history"][-1]["draft_body"] == "B1"
    assert two.body["updated_at"] >= one.body["updated_at"]
    assert_error(api.call("PATCH", f"{SESSIONS}/{session['id']}", {"title": 7}), 422)


def test_delete_then_the_session_is_gone(api):
    session = api.create_session()
    answer = api.call("DELETE", f"{SESSIONS}/{session['id']}")
    assert answer.status == 200 and answer.body == {"success": True}
    assert_error(api.session(session["id"]), 404)
    assert_error(api.call("DELETE", f"{SESSIONS}/{session['id']}"), 404)


@pytest.mark.parametrize(
    "bad_id", ["not-a-uuid", "12345678-1234-1234-1234-1234567890ab", "3f9b2c1e8a4d4e2f9b1c7d6e5f4a3b21"]
)
def test_an_id_off_the_pattern_is_400_or_422(api, bad_id):
    for method, path, body in [("GET", "", None), ("PATCH", "", {"title": "x"}), ("DELETE", "", None),
                               ("POST", "/turn", {"message": "hi"}), ("POST", "/generate-examples", {"leads": [LEAD]})]:
        answer = api.call(method, f"{SESSIONS}/{bad_id}{path}", body)
        assert answer.status in (400, 422), (method, path, answer.status)
        assert_error(answer, answer.status)


@pytest.mark.parametrize("edge_id", ["00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"])
def test_the_all_zero_and_all_f_ids_are_valid_and_not_found(api, edge_id):
    assert_error(api.session(edge_id), 404)
    assert_error(api.generate(edge_id, [LEAD]), 404)


def test_unknown_routes_are_404_and_wrong_methods_405(api):
    assert_error(api.call("GET", "/api/nothing-here"), 404)
    assert_error(api.call("GET", "/"), 404)
    session = api.create_session()
    answer = api.call("PUT", f"{SESSIONS}/{session['id']}", {"title": "x"})
    assert_error(answer, 405, "method_not_allowed")
    assert_error(api.call("GET", f"{SESSIONS}/{session['id']}/generate-examples"), 405)


# ------------------------------------------------------------- dispatch
def test_lead_count_limits(api):
    session = api.session_with_framework()
    assert_error(api.generate(session["id"], []), 422)
    assert_error(api.generate(session["id"], [LEAD] * 101), 422)
    assert_error(api.call("POST", f"{SESSIONS}/{session['id']}/generate-examples", {}), 422)
    assert api.session(session["id"]).body["task_status"] is None


def test_unicode_leads_round_trip(api):
    session = api.session_with_framework()
    lead = {
        "first_name": "Zoë 🚀", "last_name": "شريف", "company": "Ünïcode 株式会社", "custom_fields": {"note": "שלום"}
    }
    api.generate(session["id"], [lead], isFirstBatch=True)
    example = api.wait_idle(session["id"])["generated_examples"][0]
    assert example["lead"] == lead and example["status"] == "completed"
    assert "Zoë 🚀" in example["body"]


def test_a_turn_needs_a_message(api):
    session = api.create_session()
    assert_error(api.call("POST", f"{SESSIONS}/{session['id']}/turn", {}), 422)
    assert_error(api.call("POST", f"{SESSIONS}/{session['id']}/turn", {"message": ""}), 422)


# ----------------------------------------------------- workspace isolation
def test_another_workspaces_session_is_404_on_every_route(api, api_b):
    session = api.session_with_framework()
    sid = session["id"]
    for method, path, body in [
        ("GET", "", None),
        ("PATCH", "", {"title": "stolen"}),
        ("DELETE", "", None),
        ("POST", "/turn", {"message": "hi"}),
        ("POST", "/generate-examples", {"leads": [LEAD]}),
    ]:
        assert_error(api_b.call(method, f"{SESSIONS}/{sid}{path}", body), 404)
    listed = api_b.call("GET", f"{SESSIONS}?campaign_id={session['campaign_id']}").body["sessions"]
    assert sid not in [s["id"] for s in listed]
    after = api.session(sid).body
    assert after["title"] == session["title"] and after["task_status"] is None
    assert after["messages"] == session["messages"]


# ------------------------------------------------------------ run tokens
def _secret(stack) -> bytes:
    return (Path(stack.state_dir) / "service_secret").read_text().strip().encode()


def test_a_run_token_reads_its_run_and_nothing_else(api, stack):
    session = api.session_with_framework()
    first = api.generate(session["id"], [LEAD]).body
    api.wait_idle(session["id"])
    second = api.generate(session["id"], [LEAD]).body
    api.wait_idle(session["id"])

    ok = api.call("GET", f"/api/runs/{first['runId']}", token=first["publicAccessToken"])
    assert ok.status == 200 and ok.body["id"] == first["runId"]
    assert_error(api.call("GET", f"/api/runs/{second['runId']}", token=first["publicAccessToken"]), 403)
    # The token opens nothing of the session API, and an API key opens no run.
    assert_error(api.call("GET", f"{SESSIONS}/{session['id']}", token=first["publicAccessToken"]), 401)
    assert_error(api.call("GET", f"/api/runs/{first['runId']}"), 401)
    assert_error(ApiClient(stack.url, None).call("GET", f"/api/runs/{first['runId']}"), 401)


def test_expired_and_tampered_run_tokens_are_401(api, stack):
    session = api.session_with_framework()
    dispatch = api.generate(session["id"], [LEAD]).body
    api.wait_idle(session["id"])
    run_id, token = dispatch["runId"], dispatch["publicAccessToken"]

    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["scope"] == f"read:runs:{run_id}" and 0 < claims["exp"] - claims["iat"] <= 15 * 60

    expired = issue_run_token(_secret(stack), run_id, ttl_s=-5)
    assert_error(api.call("GET", f"/api/runs/{run_id}", token=expired), 401, "token_expired")
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload}.{signature[:-3]}{'AAA' if signature[-3:] != 'AAA' else 'BBB'}"
    assert_error(api.call("GET", f"/api/runs/{run_id}", token=tampered), 401, "invalid_token")
    forged = jwt.encode(
        {**claims, "exp": int(time.time()) + 60}, "not-the-service-secret-but-long-enough-for-hs256", algorithm="HS256"
    )
    assert_error(api.call("GET", f"/api/runs/{run_id}", token=forged), 401, "invalid_token")


def test_an_unknown_run_with_a_valid_token_is_404(api, stack):
    run_id = "run_" + "0" * 24
    token = issue_run_token(_secret(stack), run_id, ttl_s=60)
    assert_error(api.call("GET", f"/api/runs/{run_id}", token=token), 404)


# -------------------------------------------------------------- API keys
def test_an_operator_created_key_opens_its_workspace_and_is_stored_only_hashed(stack):
    from ops.keys import create_key

    key = create_key("ws_new", stack.table_name, stack.resolver.ref("ServiceSecret"), "us-east-1")
    client = ApiClient(stack.url, key)
    created = client.create_session(campaign_id="cmp_admin")
    assert client.session(created["id"]).status == 200
    assert_error(ApiClient(stack.url, "key-workspace-a").session(created["id"]), 404)

    pages = stack.client("dynamodb").get_paginator("scan").paginate(TableName=stack.table_name)
    dump = str([page["Items"] for page in pages])  # every page: a Scan page stops at 1 MB
    for clear in (key, "key-workspace-a", "key-workspace-b"):
        assert clear not in dump


def test_a_long_lived_api_keeps_answering_dispatches(api):
    """Metrics accumulate in a warm container and flush every 100 values: the flush must never turn a
    dispatch (whose run has already started) into a 500."""
    answers = []
    for _ in range(110):
        session = api.create_session(campaign_id="cmp_many")
        answers.append(api.turn(session["id"], "hello").status)
    assert answers == [200] * 110


# ------------------------------------------------- paths and methods as API Gateway passes them
def test_a_percent_encoded_session_id_is_the_same_session(api):
    session = api.create_session()
    encoded = "".join(f"%{ord(c):02X}" if c in "abcdef-" else c for c in session["id"])
    answer = api.session(encoded)
    assert answer.status == 200 and answer.body["id"] == session["id"]


def test_a_run_id_is_checked_decoded(api, stack):
    """`%41` is one character of the id, not three: 64 decoded characters are within the limit, 65 are not."""
    run_id = "A" * 64
    token = issue_run_token(_secret(stack), run_id, ttl_s=60)
    assert_error(api.call("GET", "/api/runs/" + "%41" * 64, token=token), 404, "run_not_found")
    assert_error(api.call("GET", "/api/runs/" + "%41" * 65, token=token), 400, "validation_error")


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "BREW"])
def test_a_method_the_api_does_not_route_is_a_json_405(api, method):
    session = api.create_session()
    for path, allow in ((f"{SESSIONS}/{session['id']}", "DELETE, GET, PATCH"), ("/api/runs/run_0", "GET"),
                        ("/nowhere", "")):
        answer = api.call(method, path)
        assert_error(answer, 405, "method_not_allowed")
        assert {k.lower(): v for k, v in answer.headers.items()}.get("allow") == allow, path
