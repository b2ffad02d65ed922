"""The OpenAPI document: served at /api/openapi.json, equal to the committed openapi.json, complete and valid."""

import gzip
import json
import urllib.request
from pathlib import Path

import pytest

from tests.client import SESSIONS, ApiClient

ROOT = Path(__file__).resolve().parents[2]
SESSION = f"{SESSIONS}/{{session_id}}"
# Every route of CONTRACT.md, with its methods.
CONTRACT_ROUTES = {
    SESSIONS: {"get", "post"},
    SESSION: {"get", "patch", "delete"},
    f"{SESSION}/turn": {"post"},
    f"{SESSION}/generate-examples": {"post"},
    "/api/runs/{run_id}": {"get"},
    "/api/runs/{run_id}/cancel": {"post"},  # issue 13: run control
    f"{SESSION}/messages": {"get"},  # a session's lists past Lambda's 6 MB answer, page by page
    f"{SESSION}/examples": {"get"},
}
SESSION_FIELDS = {
    "id", "campaign_id", "node_id", "title", "messages", "skeleton", "draft_subject", "draft_body",
    "skeleton_history", "draft_history", "framework_version", "generated_examples", "task_status",
    "created_at", "updated_at",
    # past Lambda's 6 MB answer the lists come in parts: their totals and where each continues
    "message_count", "example_count", "messages_next_cursor", "generated_examples_next_cursor",
}


def _header(answer, name: str) -> str:
    return {k.lower(): v for k, v in answer.headers.items()}.get(name, "")


@pytest.fixture(scope="module")
def served(stack):
    answer = ApiClient(stack.url, None).call("GET", "/api/openapi.json")
    assert answer.status == 200, answer.body
    assert _header(answer, "content-type").startswith("application/json")
    assert isinstance(answer.body, dict)
    return answer.body


def test_the_served_document_is_the_committed_file(served):
    committed = json.loads((ROOT / "openapi.json").read_text())
    assert served == committed, "openapi.json is stale: run `make openapi` and commit it"


def test_the_document_is_valid_openapi_3(served):
    from openapi_spec_validator import validate

    assert served["openapi"].startswith("3.")
    validate(served)
    assert served["info"]["title"] == "outreach" and served["info"]["version"]
    assert served["servers"] == [{"url": "/"}]


def test_every_contract_route_is_documented_with_its_methods(served):
    documented = {path: set(ops) for path, ops in served["paths"].items()}
    assert documented == CONTRACT_ROUTES


def test_each_operation_documents_its_answers_and_security(served):
    schemes = served["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http"} and {s["scheme"] for s in schemes.values()} == {"bearer"}
    for path, ops in served["paths"].items():
        for method, op in ops.items():
            where = f"{method.upper()} {path}"
            assert op.get("summary") and op.get("tags") and op.get("operationId"), where
            (scheme,) = [name for requirement in op["security"] for name in requirement]
            assert scheme in schemes, where
            statuses = {int(code) for code in op["responses"]}
            assert {401, 500} <= statuses, where
            assert statuses & {200, 201}, where
            for code, answer in op["responses"].items():
                ref = answer["content"]["application/json"]["schema"]["$ref"]
                if int(code) >= 400:
                    assert ref == "#/components/schemas/Error", (where, code)
            if "{session_id}" in path:
                assert {400, 404} <= statuses, where
                (param,) = [p for p in op["parameters"] if p["name"] == "session_id"]
                assert param["in"] == "path" and param["required"] and param["schema"]["pattern"].startswith("^")
            if "requestBody" in op:
                assert {413, 422} <= statuses, where
                assert "Unknown body fields are ignored" in op["description"], where
            if path.endswith(("/turn", "/generate-examples")) or method == "patch":
                assert 409 in statuses, where
    assert "Unknown body fields are ignored" in served["info"]["description"]


def test_the_response_schemas_name_the_contract_fields(served):
    schemas = served["components"]["schemas"]
    assert set(schemas["Session"]["required"]) == SESSION_FIELDS
    assert set(schemas["Example"]["required"]) == {
        "lead_id", "lead", "subject", "body", "status", "error", "run_id", "framework_version", "created_at"
    }
    assert set(schemas["Dispatched"]["required"]) == {"runId", "publicAccessToken"}
    assert {"id", "kind", "status", "session_id", "created_at", "finished_at", "progress", "usage"} <= set(
        schemas["Run"]["required"]
    )
    assert set(schemas["Error"]["required"]) == {"error", "code"} and "details" in schemas["Error"]["properties"]
    ok = served["paths"][SESSIONS]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/Session"}


def test_the_swagger_page_answers_html(stack):
    request = urllib.request.Request(stack.url + "/api/docs", headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/html")
        raw = response.read()
        html = (gzip.decompress(raw) if response.headers.get("Content-Encoding") == "gzip" else raw).decode()
    assert "<html" in html.lower() and "swagger" in html.lower() and "/api/campaigns/ai-chat-sessions" in html


def test_the_documentation_routes_need_no_key_and_keep_404_405(stack):
    anonymous = ApiClient(stack.url, None)
    assert anonymous.call("GET", "/api/openapi.json").status == 200
    for method, path in [("POST", "/api/openapi.json"), ("DELETE", "/api/docs")]:
        answer = anonymous.call(method, path, {})
        assert answer.status == 405 and answer.body["code"] == "method_not_allowed", (method, path, answer.body)
        assert _header(answer, "allow") == "GET"
    assert anonymous.call("GET", "/api/openapi.yaml").status == 404
