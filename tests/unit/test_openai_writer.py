"""The OpenAI writer against the fake OpenAI-compatible server: parsing, usage, retries, failures."""

import socket

import openai
import pytest

from outreach.errors import LLMPermanentError, LLMTransientError
from outreach.llm.openai_writer import OpenAIWriter
from outreach.models.llm import EmailDraft, FrameworkReply
from outreach.prompts import email_prompt, framework_prompt
from tests.fakes.openai_server import ALWAYS_500, EMPTY_ONCE, PERMANENT_FAIL, RATE_LIMIT_ONCE, REFUSE

SKELETON = {"goal": "Book a call", "sections": [{"name": "opener", "guidance": "Mention the company"}]}


@pytest.fixture
def fake(fake_openai):
    fake_openai.reset()
    fake_openai.latency_s = 0.0
    fake_openai.chat_route = True
    return fake_openai


def make_writer(url: str, *, cache_key: bool = False) -> OpenAIWriter:
    client = openai.OpenAI(api_key="x", base_url=url, max_retries=1, timeout=10)
    return OpenAIWriter(client, "gpt-test", cache_key=cache_key)


def prompt_for(lead: dict):
    return email_prompt(skeleton=SKELETON, draft_subject="Idea for %company%", draft_body="Hi %first_name%",
                        sequence_context=None, lead=lead, cache_key="session-1:v2")


def expected_prompt_tokens(prompt) -> int:
    # what the fake reports: a quarter of the prompt's characters
    return prompt.total_chars // 4


def test_email_parsed_with_usage(fake):
    prompt = prompt_for({"first_name": "Ann", "company": "Acme"})
    result = make_writer(fake.url).write_email(prompt)
    assert result.value == EmailDraft(
        subject="An idea for Acme", body="Hi Ann,\n\nA short note about Acme.\n\nBest,\nSam"
    )
    assert result.model == "gpt-test"
    assert result.usage.input_tokens == expected_prompt_tokens(prompt) > 0
    assert result.usage.output_tokens > 0
    assert len(fake.requests) == 1


def test_request_uses_strict_email_schema_and_the_prompt(fake):
    prompt = prompt_for({"first_name": "Ann", "company": "Acme"})
    make_writer(fake.url).write_email(prompt)
    body = fake.requests[0]["body"]
    assert fake.requests[0]["path"].endswith("/chat/completions")
    assert body["model"] == "gpt-test"
    assert body["messages"] == prompt.messages
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "EmailDraft"
    assert fmt["json_schema"]["strict"] is True
    assert set(fmt["json_schema"]["schema"]["required"]) == {"subject", "body"}
    assert "prompt_cache_key" not in body


def test_cache_key_sent_when_enabled(fake):
    prompt = prompt_for({"first_name": "Ann", "company": "Acme"})
    make_writer(fake.url, cache_key=True).write_email(prompt)
    assert fake.requests[0]["body"]["prompt_cache_key"] == "session-1:v2"


def test_permanent_error_not_retried(fake):
    with pytest.raises(LLMPermanentError) as info:
        make_writer(fake.url).write_email(prompt_for({"first_name": "Ann", "headline": PERMANENT_FAIL}))
    assert "400" in str(info.value)
    assert len(fake.requests) == 1


def test_rate_limit_once_succeeds_after_sdk_retry(fake):
    result = make_writer(fake.url).write_email(prompt_for({"first_name": "Ann", "company": RATE_LIMIT_ONCE}))
    assert result.value.subject == f"An idea for {RATE_LIMIT_ONCE}"
    assert len(fake.requests) == 2


def test_server_errors_become_transient_after_retries(fake):
    with pytest.raises(LLMTransientError):
        make_writer(fake.url).write_email(prompt_for({"first_name": "Ann", "custom_fields": {"x": ALWAYS_500}}))
    assert len(fake.requests) == 2  # the first call and the SDK's one retry


def test_unreachable_server_is_transient(fake):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = openai.OpenAI(api_key="x", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0, timeout=2)
    with pytest.raises(LLMTransientError):
        OpenAIWriter(client, "gpt-test", cache_key=False).write_email(prompt_for({"first_name": "Ann"}))


def test_empty_output_once_is_asked_again(fake):
    prompt = prompt_for({"first_name": "Ann", "company": "Acme", "headline": EMPTY_ONCE})
    result = make_writer(fake.url).write_email(prompt)
    assert result.value.subject == "An idea for Acme"
    assert result.value.body.startswith("Hi Ann,")
    assert len(fake.requests) == 2
    # both calls were billed, so both count
    assert result.usage.input_tokens == 2 * expected_prompt_tokens(prompt)


def test_refusal_is_permanent_after_two_attempts(fake):
    with pytest.raises(LLMPermanentError) as info:
        make_writer(fake.url).write_email(prompt_for({"first_name": "Ann", "position": REFUSE}))
    assert "refused" in str(info.value)
    assert len(fake.requests) == 2


def test_one_lead_failure_does_not_affect_the_next(fake):
    writer = make_writer(fake.url)
    with pytest.raises(LLMPermanentError):
        writer.write_email(prompt_for({"first_name": "Ann", "headline": PERMANENT_FAIL}))
    written = writer.write_email(prompt_for({"first_name": "Bo", "company": "Initech"}))
    assert written.value.subject == "An idea for Initech"


def test_framework_turn_parses_the_framework(fake):
    prompt = framework_prompt(messages=[], skeleton=None, draft_subject=None, draft_body=None,
                              available_var_names=["first_name", "company"], sample_leads=[],
                              sequence_context=None, user_message="We sell payroll software.", cache_key="s:chat")
    result = make_writer(fake.url).framework_turn(prompt)
    assert isinstance(result.value, FrameworkReply)
    assert result.value.reply == "Here is a framework."
    assert result.value.framework.skeleton.goal == "Book a call"
    assert result.value.framework.draft_subject == "Idea for %company%"
    assert fake.requests[0]["body"]["response_format"]["json_schema"]["name"] == "FrameworkReply"
    assert result.usage.input_tokens > 0
