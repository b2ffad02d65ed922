"""Settings read from the function's environment.

On AWS each function has its own process, so ``os.environ`` is its
environment. The local stack runs every function in one process; it sets a
per-invocation environment through :func:`function_environment` (a context
variable, so parallel Map iterations on other threads never see each other's).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass

from outreach import budgets

_override: ContextVar[Mapping[str, str] | None] = ContextVar("function_environment", default=None)


def env(name: str, default: str = "") -> str:
    override = _override.get()
    if override is not None and name in override:
        return override[name]
    return os.environ.get(name, default)


@contextlib.contextmanager
def function_environment(values: Mapping[str, str]) -> Iterator[None]:
    token = _override.set(dict(values))
    try:
        yield
    finally:
        _override.reset(token)


@dataclass(frozen=True)
class Settings:
    table_name: str
    generate_state_machine_arn: str
    chat_state_machine_arn: str
    service_secret_arn: str
    openai_secret_arn: str
    llm_provider: str
    openai_api_key: str
    openai_base_url: str
    openai_model: str
    run_timeout_s: int
    run_token_ttl_s: int
    run_retention_days: int
    llm_timeout_s: float
    llm_max_retries: int
    chat_llm_timeout_s: float
    aws_endpoint_url: str
    workspace_llm_concurrency: int

    @classmethod
    def load(cls) -> Settings:
        key = env("OPENAI_API_KEY")
        provider = env("LLM_PROVIDER").strip().lower()
        if not provider:
            # The offline writer is the default wherever no key can reach OpenAI.
            provider = "openai" if key or env("OPENAI_BASE_URL") or env("OPENAI_SECRET_ARN") else "offline"
        return cls(
            table_name=env("TABLE_NAME", "outreach"),
            generate_state_machine_arn=env("GENERATE_EXAMPLES_STATE_MACHINE_ARN"),
            chat_state_machine_arn=env("CHAT_TURN_STATE_MACHINE_ARN"),
            service_secret_arn=env("SERVICE_SECRET_ARN"),
            openai_secret_arn=env("OPENAI_SECRET_ARN"),
            llm_provider=provider,
            openai_api_key=key,
            openai_base_url=env("OPENAI_BASE_URL"),
            openai_model=env("OPENAI_MODEL", "gpt-4.1-mini"),
            run_timeout_s=int(env("RUN_TIMEOUT_S", "900")),
            run_token_ttl_s=int(env("RUN_TOKEN_TTL_S", "900")),
            run_retention_days=int(env("RUN_RETENTION_DAYS", "7")),
            llm_timeout_s=float(env("LLM_TIMEOUT_S", str(budgets.LEAD_LLM_TIMEOUT_S))),
            llm_max_retries=int(env("LLM_MAX_RETRIES", str(budgets.LLM_MAX_RETRIES))),
            chat_llm_timeout_s=float(env("CHAT_LLM_TIMEOUT_S", str(budgets.CHAT_LLM_TIMEOUT_S))),
            aws_endpoint_url=env("AWS_ENDPOINT_URL"),
            workspace_llm_concurrency=int(env("WORKSPACE_LLM_CONCURRENCY", "100")),
        )


def settings() -> Settings:
    # Cheap enough to build per call, and always reflects the active environment.
    return Settings.load()
