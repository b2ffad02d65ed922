"""Schemathesis over the served OpenAPI document, against the live local stack, as an independent check would run it.

The schemathesis CLI, with every check and every phase (examples, coverage, fuzzing, stateful), bounded by
MAX_EXAMPLES and deterministic. Any failure fails this test: a server error, an answer off the document, schema-valid
data refused (positive_data_acceptance), schema-invalid data accepted (negative_data_rejection), a wrong 405...
tests/e2e/schemathesis_hooks.py says how a client authenticates and names the one refusal that depends on the
session's state (400 no_framework), so the stateful phase reaches real runs through the document's links.
The cases run and the server errors found are added to the session's fault tally line.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.client import SESSIONS, ApiClient
from tests.e2e.conftest import KEY_A

ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = 5  # per operation in fuzzing and stateful; coverage and examples are deterministic sets
SESSION = f"{SESSIONS}/{{session_id}}"
OPERATIONS = {
    ("POST", SESSIONS),
    ("GET", SESSIONS),
    ("GET", SESSION),
    ("PATCH", SESSION),
    ("DELETE", SESSION),
    ("POST", f"{SESSION}/turn"),
    ("POST", f"{SESSION}/generate-examples"),
    ("GET", "/api/runs/{run_id}"),
    ("POST", "/api/runs/{run_id}/cancel"),
    ("GET", f"{SESSION}/messages"),
    ("GET", f"{SESSION}/examples"),
}


def test_the_document_names_every_operation(stack):
    document = ApiClient(stack.url, None).call("GET", "/api/openapi.json").body
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    assert documented == OPERATIONS


def test_schemathesis_all_checks_all_phases_finds_nothing(stack, tally, tmp_path):
    command = [
        str(Path(sys.executable).with_name("st")), "run", f"{stack.url}/api/openapi.json",
        "--checks", "all",
        # replaced by the hooks' positive_data_acceptance_in_any_state, which calls it for every other answer
        "--exclude-checks", "positive_data_acceptance",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--max-examples", str(MAX_EXAMPLES),
        "--generation-deterministic",
        "--request-timeout", "60",
        "--no-color",
        "--report", "junit", "--report-junit-path", str(tmp_path / "junit.xml"),
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_hooks", "OUTREACH_API_KEY": KEY_A,
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    output = run.stdout + run.stderr
    generated = re.search(r"(\d+) generated", output)
    tally.schemathesis_cases += int(generated.group(1)) if generated else 0
    tally.schemathesis_server_errors += len(re.findall(r"^- (?:ST\d+ )?Server error", output, re.MULTILINE))
    assert run.returncode == 0, output[-12000:]
    assert generated and int(generated.group(1)) > 0, output[-2000:]
    assert "Stateful" in output, "the stateful phase ran"


# ------------------------------------------------------- what earlier runs found, pinned
def test_a_body_that_is_not_utf8_is_400_not_500(stack):
    """The local front (like API Gateway) base64-encodes a body that is not UTF-8; Powertools failed decoding it."""
    for path in [SESSIONS, f"{SESSIONS}/00000000-0000-0000-0000-000000000000/turn"]:
        answer = ApiClient(stack.url, KEY_A).call("POST", path, raw=b"\x87&9")
        assert answer.status == 400 and answer.body["code"] == "invalid_json", answer.body


def test_a_missing_or_blank_campaign_id_is_the_documented_400(stack):
    for query in ("", "?campaign_id=", "?campaign_id=%20%20"):
        answer = ApiClient(stack.url, KEY_A).call("GET", SESSIONS + query)
        assert answer.status == 400 and answer.body["code"] == "campaign_id_required", (query, answer.body)
