"""OpenAI (and any OpenAI-compatible server that honours json_schema) through the openai SDK.

Structured outputs come from ``chat.completions.parse`` with a pydantic model.
Transient failures (429, 5xx, connection errors, timeouts) are retried by the
SDK with exponential backoff and jitter, honouring Retry-After; what is still
failing after that is raised as :class:`LLMTransientError` so Step Functions
retries the lead once more. Other 4xx answers are permanent. Output that fails
validation (refusal, cut off, empty) is asked for once more, then permanent.
"""

from __future__ import annotations

from typing import TypeVar

import openai
from pydantic import BaseModel, ValidationError

from outreach.config import Settings
from outreach.errors import LLMPermanentError, LLMTransientError
from outreach.llm.base import LLMResult, check_email
from outreach.models.llm import EmailDraft, FrameworkReply, Usage
from outreach.prompts import Prompt

T = TypeVar("T", bound=BaseModel)
OUTPUT_ATTEMPTS = 2


class _BadOutput(Exception):
    pass


def _api_key(settings: Settings) -> str:
    if settings.openai_api_key:
        return settings.openai_api_key
    if settings.openai_base_url and not settings.openai_secret_arn:
        return "not-needed"  # local compatible servers often take no key
    if settings.openai_secret_arn:
        from aws_lambda_powertools.utilities.parameters import get_secret

        return str(get_secret(settings.openai_secret_arn, max_age=300)).strip()
    raise LLMPermanentError("LLM_PROVIDER is openai but no OPENAI_API_KEY (or OPENAI_SECRET_ARN) is set.")


def _send_cache_key(settings: Settings) -> bool:
    # prompt_cache_key is OpenAI's own parameter; some compatible servers reject unknown fields.
    if settings.openai_prompt_cache_key != "auto":
        return settings.openai_prompt_cache_key == "on"
    return not settings.openai_base_url or "api.openai.com" in settings.openai_base_url


class OpenAIWriter:
    def __init__(self, client: openai.OpenAI, model: str, *, cache_key: bool, api_style: str = "auto"):
        self.client = client
        self.model = model
        self.cache_key = cache_key
        # "chat" (Chat Completions), "responses" (Responses API), or "auto": chat, and the Responses
        # API from then on if the server has no chat completions route.
        self.api_style = api_style

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIWriter:
        client = openai.OpenAI(
            api_key=_api_key(settings),
            base_url=settings.openai_base_url or None,
            max_retries=settings.llm_max_retries,
            timeout=settings.llm_timeout_s,
        )
        return cls(
            client,
            settings.openai_model,
            cache_key=_send_cache_key(settings),
            api_style=settings.openai_api_style,
        )

    def write_email(self, prompt: Prompt) -> LLMResult[EmailDraft]:
        return self._parse(prompt, EmailDraft, check=check_email)

    def framework_turn(self, prompt: Prompt) -> LLMResult[FrameworkReply]:
        def check(reply: FrameworkReply) -> FrameworkReply:
            if not reply.reply.strip():
                raise ValueError("the model returned an empty reply")
            return reply

        return self._parse(prompt, FrameworkReply, check=check)

    def _parse(self, prompt: Prompt, schema: type[T], *, check) -> LLMResult[T]:
        usage = Usage()
        last_problem = ""
        for _ in range(OUTPUT_ATTEMPTS):
            try:
                value, call_usage = self._call(prompt, schema)
                usage = usage + call_usage
                return LLMResult(value=check(value), usage=usage, model=self.model)
            except _BadOutput as problem:
                last_problem = str(problem)
            except ValueError as problem:  # the check above
                last_problem = str(problem)
        raise LLMPermanentError(f"The model's answer was unusable twice: {last_problem}")

    def _call(self, prompt: Prompt, schema: type[T]) -> tuple[T, Usage]:
        extra = {"prompt_cache_key": prompt.cache_key} if self.cache_key else {}
        try:
            if self.api_style == "responses":
                return self._call_responses(prompt, schema, extra)
            try:
                return self._call_chat(prompt, schema, extra)
            except openai.NotFoundError:
                if self.api_style != "auto":
                    raise
                self.api_style = "responses"
                return self._call_responses(prompt, schema, extra)
        except (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError) as exc:
            raise LLMTransientError(_describe(exc)) from exc
        except openai.APIStatusError as exc:
            if exc.status_code >= 500 or exc.status_code in (408, 409, 429):
                raise LLMTransientError(_describe(exc)) from exc
            raise LLMPermanentError(_describe(exc)) from exc
        except (openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError) as exc:
            raise _BadOutput(type(exc).__name__) from exc
        except (ValidationError, ValueError) as exc:
            raise _BadOutput(f"output did not match the schema ({type(exc).__name__})") from exc

    def _call_chat(self, prompt: Prompt, schema: type[T], extra: dict) -> tuple[T, Usage]:
        completion = self.client.chat.completions.parse(
            model=self.model, messages=prompt.messages, response_format=schema, **extra
        )
        usage = _usage(completion.usage)
        choice = completion.choices[0] if completion.choices else None
        message = choice.message if choice else None
        if message is None or message.refusal:
            raise _BadOutput("the model refused")
        if message.parsed is None:
            raise _BadOutput("no structured output")
        return message.parsed, usage

    def _call_responses(self, prompt: Prompt, schema: type[T], extra: dict) -> tuple[T, Usage]:
        response = self.client.responses.parse(model=self.model, input=prompt.messages, text_format=schema, **extra)
        raw = response.usage
        details = getattr(raw, "input_tokens_details", None)
        usage = Usage(
            input_tokens=getattr(raw, "input_tokens", 0) or 0,
            cached_input_tokens=getattr(details, "cached_tokens", 0) or 0,
            output_tokens=getattr(raw, "output_tokens", 0) or 0,
        )
        parts = (part for item in response.output for part in getattr(item, "content", None) or [])
        if any(getattr(part, "type", "") == "refusal" for part in parts):
            raise _BadOutput("the model refused")
        if response.output_parsed is None:
            raise _BadOutput("no structured output")
        return response.output_parsed, usage


def _usage(raw) -> Usage:
    if raw is None:
        return Usage()
    details = getattr(raw, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) or 0
    return Usage(
        input_tokens=raw.prompt_tokens or 0,
        cached_input_tokens=cached,
        output_tokens=raw.completion_tokens or 0,
    )


def _describe(exc: openai.APIError) -> str:
    status = getattr(exc, "status_code", None)
    kind = {
        429: "rate limited",
        401: "rejected the API key",
        403: "refused access",
        404: "does not know the model",
        400: "rejected the request",
    }.get(status or 0)
    if status is None:
        return f"The LLM could not be reached ({type(exc).__name__})."
    if kind:
        return f"The LLM {kind} (HTTP {status})."
    return f"The LLM answered HTTP {status}."
