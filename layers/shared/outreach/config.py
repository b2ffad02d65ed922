"""Settings: one validated model of a function's environment, built once per environment.

On AWS each function has its own process, so ``os.environ`` is its environment and :func:`settings`
builds the model once per container; the handlers call it at import, so a bad value fails the cold start
with a message naming the variable. The local stack runs every function in one process and gives each
invoke its function's environment through :func:`function_environment` (a context variable, so parallel
Map iterations on other threads never see each other's); the model is cached per such environment.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

# The active per-invoke environment, frozen so it can key the settings cache.
_override: ContextVar[frozenset[tuple[str, str]] | None] = ContextVar("function_environment", default=None)


class SettingsError(RuntimeError):
    """The function's environment holds a value the service cannot run with."""


def env(name: str, default: str = "") -> str:
    """One raw variable of the active environment. A setting belongs in :class:`Settings` (typed, validated once)."""
    override = _override.get()
    if override is not None:
        value = dict(override).get(name)
        if value is not None:
            return value
    return os.environ.get(name, default)


@contextlib.contextmanager
def function_environment(values: Mapping[str, str]) -> Iterator[None]:
    token = _override.set(frozenset((str(k), str(v)) for k, v in values.items()))
    try:
        yield
    finally:
        _override.reset(token)


_SWITCH = {"on": "on", "true": "on", "1": "on", "off": "off", "false": "off", "0": "off", "auto": "auto"}


class Settings(BaseModel):
    """Every setting a function reads, by its environment variable (the alias)."""

    model_config = ConfigDict(frozen=True, extra="ignore", validate_by_name=True, validate_by_alias=True)

    table_name: str = Field("outreach", alias="TABLE_NAME", min_length=1)
    generate_state_machine_arn: str = Field("", alias="GENERATE_EXAMPLES_STATE_MACHINE_ARN")
    chat_state_machine_arn: str = Field("", alias="CHAT_TURN_STATE_MACHINE_ARN")
    service_secret_arn: str = Field("", alias="SERVICE_SECRET_ARN")
    openai_secret_arn: str = Field("", alias="OPENAI_SECRET_ARN")
    # Default: openai where a key can reach it (a key, a base URL or a secret), else the offline writer.
    llm_provider: Literal["openai", "offline"] = Field("offline", alias="LLM_PROVIDER")
    openai_api_key: str = Field("", alias="OPENAI_API_KEY", repr=False)
    openai_base_url: str = Field("", alias="OPENAI_BASE_URL")
    openai_model: str = Field("gpt-4.1-mini", alias="OPENAI_MODEL", min_length=1)
    # "on" sends prompt_cache_key, "off" never, "auto" only to api.openai.com (some servers reject it).
    openai_prompt_cache_key: Literal["auto", "on", "off"] = Field("auto", alias="OPENAI_PROMPT_CACHE_KEY")
    openai_api_style: Literal["auto", "chat", "responses"] = Field("auto", alias="OPENAI_API_STYLE")
    run_timeout_s: int = Field(900, alias="RUN_TIMEOUT_S", gt=0)
    run_token_ttl_s: int = Field(900, alias="RUN_TOKEN_TTL_S", gt=0)
    run_retention_days: int = Field(7, alias="RUN_RETENTION_DAYS", gt=0)
    llm_timeout_s: float = Field(60.0, alias="LLM_TIMEOUT_S", gt=0)
    llm_max_retries: int = Field(3, alias="LLM_MAX_RETRIES", ge=0)
    aws_endpoint_url: str = Field("", alias="AWS_ENDPOINT_URL")
    workspace_llm_concurrency: int = Field(100, alias="WORKSPACE_LLM_CONCURRENCY", gt=0)

    @model_validator(mode="before")
    @classmethod
    def _default_provider(cls, values: Any) -> Any:
        if not isinstance(values, Mapping):
            return values
        # An empty variable counts as unset (templates pass "" for optional parameters).
        values = {k: v for k, v in values.items() if not (isinstance(v, str) and not v.strip())}
        provider = str(values.get("LLM_PROVIDER") or values.get("llm_provider") or "").strip().lower()
        if not provider:
            reachable = any(values.get(name) for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_SECRET_ARN"))
            provider = "openai" if reachable else "offline"
        values["LLM_PROVIDER"] = provider
        values.pop("llm_provider", None)
        return values

    @field_validator("openai_prompt_cache_key", "openai_api_style", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("openai_prompt_cache_key", mode="before")
    @classmethod
    def _switch(cls, value: Any) -> Any:
        return _SWITCH.get(value, value) if isinstance(value, str) else value

    @classmethod
    def from_environment(cls, environment: Mapping[str, str]) -> Settings:
        """Validate an environment; :class:`SettingsError` names each bad variable (values never echoed)."""
        try:
            return cls.model_validate(environment)
        except ValidationError as error:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'environment'}: {e['msg']}" for e in error.errors())
            raise SettingsError(f"Invalid settings in the function's environment: {problems}.") from None

    @classmethod
    def load(cls) -> Settings:
        return settings()


@functools.lru_cache(maxsize=32)
def _settings_for(override: frozenset[tuple[str, str]] | None) -> Settings:
    environment = dict(os.environ)
    if override is not None:
        environment.update(override)
    return Settings.from_environment(environment)


def settings() -> Settings:
    """The active environment's settings, validated once per environment and then cached."""
    return _settings_for(_override.get())


def reset() -> None:
    """Forget cached settings (tests that change ``os.environ``)."""
    _settings_for.cache_clear()
