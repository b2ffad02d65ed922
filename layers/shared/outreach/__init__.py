"""Shared domain package of the campaign AI chat service: models, session store, prompts, LLM clients."""

SERVICE_NAME = "outreach"
