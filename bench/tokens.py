"""Tokens per lead, the share of each call's input that every call of a run shares, and cost per lead."""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass

# USD per 1M tokens, list prices. Add a model here to price runs with it (OPENAI_MODEL picks the row).
PRICES_PER_M = {
    "gpt-4.1-mini": {"input": 0.40, "cached_input": 0.10, "output": 1.60},
    "gpt-4.1-nano": {"input": 0.10, "cached_input": 0.025, "output": 0.40},
    "gpt-4.1": {"input": 2.00, "cached_input": 0.50, "output": 8.00},
    "gpt-4o-mini": {"input": 0.15, "cached_input": 0.075, "output": 0.60},
}
# OpenAI caches a prompt prefix from 1024 tokens on, in steps of 128 tokens.
CACHE_MIN_TOKENS = 1024
CACHE_STEP_TOKENS = 128
CHARS_PER_TOKEN = 4  # what the fake server counts; real tokenizers give roughly the same for English JSON


def _messages(request: dict) -> list[dict]:
    body = request["body"]
    return body.get("messages") or body.get("input") or []


def serialized(request: dict) -> str:
    """What a call sends as input: the messages' contents in order (what prompt_chars counts)."""
    return "".join(str(m.get("content", "")) for m in _messages(request))


def common_prefix(texts: list[str]) -> int:
    if not texts:
        return 0
    first, last = min(texts), max(texts)  # the lexicographic extremes bound every common prefix
    n = 0
    for a, b in zip(first, last, strict=False):  # they differ in length
        if a != b:
            break
        n += 1
    return n


def cached_tokens(prefix_tokens: int) -> int:
    if prefix_tokens < CACHE_MIN_TOKENS:
        return 0
    return CACHE_MIN_TOKENS + (prefix_tokens - CACHE_MIN_TOKENS) // CACHE_STEP_TOKENS * CACHE_STEP_TOKENS


@dataclass
class TokenReport:
    model: str
    leads: int
    input_tokens: list[int]
    output_tokens: list[int]
    reported_cached: list[int]
    share_stored: list[float]  # shared_prefix_chars / prompt_chars, from the lead items
    share_observed: list[float]  # longest common prefix of all calls / each call's chars, from the fake
    common_prefix_chars: int
    cost_no_cache_usd: float  # per lead
    cost_cached_usd: float  # per lead, prefix cached on all but the first call when long enough
    cacheable_prefix_tokens: int
    prices: dict

    @property
    def mean_in(self) -> float:
        return statistics.fmean(self.input_tokens)

    @property
    def mean_out(self) -> float:
        return statistics.fmean(self.output_tokens)


def analyse(lead_items: list[dict], requests: list[dict], model: str | None = None) -> TokenReport:
    model = model or os.environ.get("OPENAI_MODEL") or "gpt-4.1-mini"
    prices = PRICES_PER_M.get(model)
    if prices is None:
        raise KeyError(f"no price for model {model!r}: add it to PRICES_PER_M in bench/tokens.py")
    done = [i for i in lead_items if i.get("status") == "completed" and i.get("usage")]
    if not done:
        raise ValueError("no completed lead with usage to analyse")
    ins = [int(i["usage"]["input_tokens"]) for i in done]
    outs = [int(i["usage"]["output_tokens"]) for i in done]
    cached = [int(i["usage"].get("cached_input_tokens", 0)) for i in done]
    stored = [int(i["shared_prefix_chars"]) / int(i["prompt_chars"]) for i in done if i.get("prompt_chars")]

    texts = [serialized(r) for r in requests]
    prefix = common_prefix(texts)
    observed = [prefix / len(t) for t in texts if t]

    n = len(done)
    # Cost without caching: every input token at the full price.
    no_cache = sum(ins) * prices["input"] / 1e6 + sum(outs) * prices["output"] / 1e6
    # With caching: the common prefix is written by the first call and read from cache by the others.
    prefix_tokens = prefix // CHARS_PER_TOKEN
    hit = cached_tokens(prefix_tokens)
    cached_total = hit * (n - 1)
    with_cache = ((sum(ins) - cached_total) * prices["input"] + cached_total * prices["cached_input"]
                  + sum(outs) * prices["output"]) / 1e6
    return TokenReport(
        model=model, leads=n, input_tokens=ins, output_tokens=outs, reported_cached=cached,
        share_stored=stored, share_observed=observed, common_prefix_chars=prefix,
        cost_no_cache_usd=no_cache / n, cost_cached_usd=with_cache / n,
        cacheable_prefix_tokens=prefix_tokens, prices=prices,
    )


def describe_prompt(request: dict) -> list[tuple[str, int]]:
    """(role, characters) of each message of one call, to show where the input goes."""
    return [(m.get("role", "?"), len(str(m.get("content", "")))) for m in _messages(request)]

