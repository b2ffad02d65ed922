"""Shared domain package of the campaign AI chat service: models, session store, prompts, LLM clients."""

SERVICE_NAME = "outreach"
# Also POWERTOOLS_METRICS_NAMESPACE in template.yaml; named here so no import order can lose it.
METRICS_NAMESPACE = "Outreach"
