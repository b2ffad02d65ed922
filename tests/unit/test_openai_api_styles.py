"""The openai provider works with servers that offer only one of the two structured-output APIs."""

import openai
import pytest

from outreach.llm.openai_writer import OpenAIWriter
from outreach.prompts import email_prompt
from tests.fakes.openai_server import FakeOpenAI

LEAD = {"first_name": "Ann", "company": "Acme"}


@pytest.fixture
def responses_only():
    fake = FakeOpenAI(chat_route=False).start()
    yield fake
    fake.stop()


def prompt():
    return email_prompt(
        skeleton={"goal": "Book a call"}, draft_subject="Hi", draft_body="Hi %first_name%",
        sequence_context=None, lead=LEAD, cache_key="session:v1",
    )


def writer(fake, style="auto"):
    client = openai.OpenAI(api_key="x", base_url=fake.url, max_retries=0)
    return OpenAIWriter(client, "gpt-test", cache_key=False, api_style=style)


def test_auto_falls_back_to_the_responses_api_once_and_stays_there(responses_only):
    w = writer(responses_only)
    first = w.write_email(prompt())
    second = w.write_email(prompt())
    assert first.value.subject == "An idea for Acme" and second.value == first.value
    assert first.usage.input_tokens > 0
    assert [r["path"] for r in responses_only.requests] == ["/v1/chat/completions", "/v1/responses", "/v1/responses"]
    sent = responses_only.requests[-1]["body"]
    assert sent["text"]["format"]["type"] == "json_schema" and sent["text"]["format"]["name"] == "EmailDraft"


def test_chat_only_style_does_not_fall_back(responses_only):
    from outreach.errors import LLMPermanentError

    with pytest.raises(LLMPermanentError, match="404"):
        writer(responses_only, "chat").write_email(prompt())
