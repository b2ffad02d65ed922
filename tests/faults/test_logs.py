"""The logs of a full run, failures included, hold no API key, run token, OpenAI key or lead data."""

import io
import logging

import pytest
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from tests.faults.tally import START_EXECUTION_FAILS
from tests.stack_fixture import KEY_A

SECRET_LEAD = {
    "first_name": "Zelda",
    "last_name": "Quixote-Marlowe",
    "company": "Umbrage Heliotrope Ltd",
    "headline": "Bearer sk-leadfieldlookslikeakey1234 and eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
    "linkedin_url": "https://www.linkedin.com/in/zelda-quixote-marlowe",
    "custom_fields": {"email": "zelda.private@example.org", "phone": "+44 7700 900123"},
}


@pytest.fixture
def captured_logs():
    service = logging.getLogger("outreach")
    formatter = service.handlers[0].formatter  # the formatter the handlers were built with
    buffer, handler = io.StringIO(), logging.StreamHandler()
    handler.stream = buffer
    handler.setFormatter(formatter)
    loggers = [service] + [
        logging.getLogger(name) for name in list(logging.root.manager.loggerDict) if name.startswith("outreach.")
    ]
    levels = [each.level for each in loggers]
    service.addHandler(handler)
    for each in loggers:
        each.setLevel(logging.DEBUG)
    yield buffer
    service.removeHandler(handler)
    for each, level in zip(loggers, levels, strict=True):
        each.setLevel(level)


def test_a_full_run_logs_no_secret_and_no_lead(api, tally, captured_logs, monkeypatch):
    session = api.session_with_framework()
    dispatch = api.generate(session["id"], [SECRET_LEAD], isFirstBatch=True).body
    api.wait_idle(session["id"])
    api.call("GET", f"/api/runs/{dispatch['runId']}", token=dispatch["publicAccessToken"])
    api.call("GET", f"/api/runs/{dispatch['runId']}", token=dispatch["publicAccessToken"] + "x")

    refused = []

    def refuse(*args, **kwargs):
        refused.append(1)
        raise RuntimeError(f"down; request had Authorization: Bearer {KEY_A}")

    monkeypatch.setattr(StepFunctionsParserBackend, "start_execution", refuse)
    assert api.generate(session["id"], [SECRET_LEAD]).status == 500
    assert refused
    tally.observe(START_EXECUTION_FAILS, len(refused))
    monkeypatch.undo()

    logs = captured_logs.getvalue()
    assert "run dispatched" in logs and "dispatch failed" in logs, "the run was logged at all"
    forbidden = [KEY_A, dispatch["publicAccessToken"], "sk-test-not-a-real-key", "sk-leadfieldlookslikeakey1234"]
    forbidden += [str(v) for k, v in SECRET_LEAD.items() if k != "custom_fields"]
    forbidden += list(SECRET_LEAD["custom_fields"].values())
    leaked = [value for value in forbidden if value in logs]
    assert not leaked, f"logs hold {leaked}"
    tally.watch(api, session["id"], [SECRET_LEAD["linkedin_url"]])
