"""Shared domain package of the campaign AI chat service: models, session store, prompts, LLM clients."""

SERVICE_NAME = "outreach"
METRICS_NAMESPACE = "Outreach"  # also POWERTOOLS_METRICS_NAMESPACE in template.yaml; named here so no import order can lose it
