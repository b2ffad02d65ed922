"""LLM providers, chosen by ``LLM_PROVIDER``. The openai SDK is imported only by the openai provider."""

from __future__ import annotations

from typing import TYPE_CHECKING

from outreach.llm.base import LLMResult, Writer

if TYPE_CHECKING:
    from outreach.config import Settings


def writer_for(settings: Settings) -> Writer:
    if settings.llm_provider == "offline":
        from outreach.llm.offline import OfflineWriter

        return OfflineWriter()
    if settings.llm_provider == "openai":
        from outreach.llm.openai_writer import OpenAIWriter

        return OpenAIWriter.from_settings(settings)
    raise ValueError(f"Unknown LLM_PROVIDER {settings.llm_provider!r}: use 'openai' or 'offline'.")


__all__ = ["LLMResult", "Writer", "writer_for"]
