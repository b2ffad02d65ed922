"""Settings: validated once per environment, bad values refused with the variable's name, never its value."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from outreach.config import Settings, SettingsError, function_environment, settings


def test_numbers_and_choices_are_typed_and_defaulted():
    s = Settings.from_environment({"RUN_TIMEOUT_S": "120", "LLM_TIMEOUT_S": "2.5", "OPENAI_API_STYLE": "Responses",
                                   "TABLE_NAME": "", "WORKSPACE_LLM_CONCURRENCY": " "})
    assert (s.run_timeout_s, s.llm_timeout_s, s.openai_api_style) == (120, 2.5, "responses")
    # an empty variable counts as unset
    assert (s.table_name, s.workspace_llm_concurrency, s.run_token_ttl_s) == ("outreach", 100, 900)


@pytest.mark.parametrize(
    ("environment", "variable"),
    [
        ({"RUN_TIMEOUT_S": "fifteen minutes"}, "RUN_TIMEOUT_S"),
        ({"RUN_TIMEOUT_S": "0"}, "RUN_TIMEOUT_S"),
        ({"WORKSPACE_LLM_CONCURRENCY": "-1"}, "WORKSPACE_LLM_CONCURRENCY"),
        ({"LLM_PROVIDER": "anthropic"}, "LLM_PROVIDER"),
        ({"OPENAI_API_STYLE": "completions"}, "OPENAI_API_STYLE"),
        ({"OPENAI_PROMPT_CACHE_KEY": "sometimes"}, "OPENAI_PROMPT_CACHE_KEY"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(environment, variable):
    with pytest.raises(SettingsError, match=variable):
        Settings.from_environment(environment)


def test_the_message_never_echoes_a_value():
    with pytest.raises(SettingsError) as refused:
        Settings.from_environment({"OPENAI_API_KEY": "sk-very-secret", "LLM_MAX_RETRIES": "sk-also-secret"})
    assert "secret" not in str(refused.value)
    assert "sk-very-secret" not in repr(Settings.from_environment({"OPENAI_API_KEY": "sk-very-secret"}))


@pytest.mark.parametrize(
    ("environment", "provider"),
    [
        ({}, "offline"),
        ({"OPENAI_API_KEY": "sk-x"}, "openai"),
        ({"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}, "openai"),
        ({"OPENAI_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:k"}, "openai"),
        ({"OPENAI_API_KEY": "sk-x", "LLM_PROVIDER": " Offline "}, "offline"),
    ],
)
def test_the_writer_defaults_to_openai_only_where_a_key_can_reach_it(environment, provider):
    assert Settings.from_environment(environment).llm_provider == provider


@pytest.mark.parametrize(("value", "switch"), [("true", "on"), ("1", "on"), ("OFF", "off"), ("0", "off"), ("", "auto")])
def test_prompt_cache_switch_accepts_the_usual_spellings(value, switch):
    assert Settings.from_environment({"OPENAI_PROMPT_CACHE_KEY": value}).openai_prompt_cache_key == switch


def test_each_function_environment_gets_its_own_settings_built_once():
    """The local stack runs every function in one process: each invoke sees its own function's settings."""
    seen: dict[str, list[Settings]] = {"a": [], "b": []}
    barrier = threading.Barrier(2)

    def invoke(name: str, timeout: str) -> None:
        with function_environment({"RUN_TIMEOUT_S": timeout, "TABLE_NAME": f"table-{name}"}):
            seen[name].append(settings())
            barrier.wait(timeout=10)  # both environments active at once, on two threads
            seen[name].append(settings())

    threads = [threading.Thread(target=invoke, args=args) for args in (("a", "11"), ("b", "22"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert [(s.table_name, s.run_timeout_s) for s in seen["a"]] == [("table-a", 11)] * 2
    assert [(s.table_name, s.run_timeout_s) for s in seen["b"]] == [("table-b", 22)] * 2
    assert seen["a"][0] is seen["a"][1]  # read once, not per call
    with function_environment({"RUN_TIMEOUT_S": "11", "TABLE_NAME": "table-a"}):
        assert settings() is seen["a"][0]  # the same environment on a later invoke: the same settings


def test_a_bad_per_invoke_environment_fails_that_invoke_clearly():
    with function_environment({"RUN_TOKEN_TTL_S": "never"}), pytest.raises(SettingsError, match="RUN_TOKEN_TTL_S"):
        settings()


def test_make_serve_with_a_bad_setting_stops_at_start_with_one_clear_line(tmp_path):
    environment = {**os.environ, "RUN_TIMEOUT_S": "15m", "PORT": "0", "LOCAL_STATE_DIR": str(tmp_path)}
    serve = subprocess.run([sys.executable, "-m", "local.serve"], cwd=Path(__file__).resolve().parents[2],
                           env=environment, capture_output=True, text=True, timeout=120)
    assert serve.returncode == 2
    assert "RUN_TIMEOUT_S" in serve.stderr and "Traceback" not in serve.stderr
