"""The time budgets nest, with the real numbers: template.yaml, the ASL files and the settings' defaults.

Nothing here restates a timeout or a Retry rule: change one in its file and this test says whether the
budgets still hold (outreach/budgets.py explains each inequality).
"""

import json
import re

import pytest
from openai._models import FinalRequestOptions

from local.cfn import ROOT, load_template, parameter_defaults
from outreach import budgets
from outreach.config import Settings
from outreach.llm.openai_writer import BoundedRetryOpenAI
from outreach.logic.workers import FAILURE_MESSAGES, LEASE_S, failure_message
from outreach.models.requests import MAX_LEADS_PER_CALL

TEMPLATE = load_template()
PARAMETERS = parameter_defaults(TEMPLATE)
RUN_LIMIT_S = int(PARAMETERS["RunTimeoutSeconds"])


def function_timeout(logical_id: str) -> int:
    props = TEMPLATE["Resources"][logical_id]["Properties"]
    return int(props.get("Timeout", TEMPLATE["Globals"]["Function"]["Timeout"]))


def state_machine(logical_id: str) -> dict:
    """The ASL with the template's parameter defaults substituted (function ARNs do not matter here)."""
    props = TEMPLATE["Resources"][logical_id]["Properties"]
    values = {
        name: PARAMETERS[value["Ref"]] if isinstance(value, dict) and value.get("Ref") in PARAMETERS else value
        for name, value in props.get("DefinitionSubstitutions", {}).items()
    }
    text = re.sub(
        r"\$\{(\w+)\}",
        lambda m: str(values[m.group(1)]) if isinstance(values.get(m.group(1)), str) else "arn",
        (ROOT / props["DefinitionUri"]).read_text(),
    )
    return json.loads(text)


@pytest.fixture
def default_settings(monkeypatch):
    for name in ("LLM_TIMEOUT_S", "LLM_MAX_RETRIES", "CHAT_LLM_TIMEOUT_S"):
        monkeypatch.delenv(name, raising=False)
    return Settings.load()


def lead_child(definition: dict) -> dict:
    return definition["States"]["GenerateEachLead"]["ItemProcessor"]


def test_a_leads_llm_worst_case_fits_its_function_timeout(default_settings):
    worst = budgets.llm_worst_s(default_settings.llm_timeout_s, default_settings.llm_max_retries)
    assert worst < function_timeout("GenerateLeadFunction") < budgets.EXPRESS_CHILD_LIMIT_S


def test_a_leads_express_child_with_every_retry_and_its_failure_record_fits_five_minutes():
    definition = state_machine("GenerateExamplesStateMachine")
    assert definition["States"]["GenerateEachLead"]["ItemProcessor"]["ProcessorConfig"]["ExecutionType"] == "EXPRESS"
    states = lead_child(definition)["States"]
    lead_timeout = function_timeout("GenerateLeadFunction")
    generate = budgets.task_worst_s(states["GenerateLead"], lead_timeout)
    record = budgets.task_worst_s(states["RecordLeadFailure"], lead_timeout)
    assert generate + record < budgets.EXPRESS_CHILD_LIMIT_S
    # Waiting for workspace capacity is part of that bound: a lead that never gets a slot still ends with
    # its own reason (WorkspaceBusy, caught and recorded), not stopped by AWS.
    busy = [r for r in states["GenerateLead"]["Retry"] if "WorkspaceBusy" in r["ErrorEquals"]]
    assert busy and all(int(r["MaxAttempts"]) < 60 for r in busy)
    assert states["GenerateLead"]["Catch"][0]["Next"] == "RecordLeadFailure"


def test_a_generate_run_fits_the_run_limit_with_one_wave_of_children():
    definition = state_machine("GenerateExamplesStateMachine")
    one_call = budgets.waves(MAX_LEADS_PER_CALL, int(PARAMETERS["LeadConcurrency"])) * budgets.EXPRESS_CHILD_LIMIT_S
    aggregate = budgets.task_worst_s(definition["States"]["Aggregate"], function_timeout("AggregateFunction"))
    release = budgets.task_worst_s(definition["States"]["ReleaseClaim"], function_timeout("ReleaseFunction"))
    assert one_call + aggregate + release < RUN_LIMIT_S == int(definition["TimeoutSeconds"])


def test_a_chat_turn_fits_its_function_timeout_and_the_run_limit(default_settings):
    worst = budgets.llm_worst_s(default_settings.chat_llm_timeout_s, default_settings.llm_max_retries)
    chat_timeout = function_timeout("ChatTurnFunction")
    assert worst < chat_timeout
    definition = state_machine("ChatTurnStateMachine")
    turn = budgets.task_worst_s(definition["States"]["ChatTurn"], chat_timeout)
    release = budgets.task_worst_s(definition["States"]["ReleaseClaim"], function_timeout("ReleaseFunction"))
    assert turn + release < RUN_LIMIT_S == int(definition["TimeoutSeconds"])


def test_a_workspace_lease_outlives_the_worker_that_holds_it():
    assert function_timeout("GenerateLeadFunction") <= LEASE_S


def test_timeouts_are_caught_and_recorded_with_a_reason_a_person_can_read():
    for definition in (state_machine("GenerateExamplesStateMachine"), state_machine("ChatTurnStateMachine")):
        tasks = [s for s in _all_states(definition) if s.get("Type") == "Task" and "Catch" in s]
        assert tasks and all(any("States.ALL" in c["ErrorEquals"] for c in s["Catch"]) for s in tasks)
    for error in ("Sandbox.Timedout", "States.Timeout", "States.DataLimitExceeded", "Function.ResponseSizeTooLarge"):
        assert error in FAILURE_MESSAGES
        assert failure_message(error) == FAILURE_MESSAGES[error] and error not in failure_message(error)


def _all_states(definition: dict):
    for state in definition["States"].values():
        yield state
        if "ItemProcessor" in state:
            yield from _all_states(state["ItemProcessor"])


def test_the_sdk_waits_no_longer_than_the_budget_even_when_the_server_asks_for_more():
    client = BoundedRetryOpenAI(api_key="x", base_url="http://127.0.0.1:9", max_retries=1)
    options = FinalRequestOptions(method="post", url="/chat/completions")
    assert client._calculate_retry_timeout(1, options, {"retry-after": "100"}) == budgets.SDK_RETRY_WAIT_CAP_S
    assert client._calculate_retry_timeout(1, options, {"retry-after": "2"}) == 2
