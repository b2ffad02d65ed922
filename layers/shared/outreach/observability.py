"""Logging that never writes secrets: a Powertools formatter that masks them in every record.

The service never logs API keys, run tokens or lead records on purpose; this is
the net under that rule, for what reaches a log by accident (an exception
message quoting a header, a token in a URL).
"""

from __future__ import annotations

import os
import re

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from outreach import SERVICE_NAME

_PATTERNS = [
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"), "[redacted-token]"),  # JWTs
    (re.compile(r"(?i)(bearer\s+)[^\s\"'\\,]+"), r"\1[redacted]"),
    (re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)[^\"'\\,}]+"), r"\1[redacted]"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"), "[redacted-key]"),  # OpenAI keys
    (re.compile(r"\bok_[A-Za-z0-9_-]{20,}"), "[redacted-key]"),  # this service's API keys
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFormatter(LambdaPowertoolsFormatter):
    def serialize(self, log: dict) -> str:
        return redact(super().serialize(log))


class _NoTracer:
    """Stands in for Powertools' Tracer when deep tracing is off: the decorators pass through."""

    def capture_lambda_handler(self, handler=None, **_):
        return handler if handler is not None else (lambda fn: fn)

    def capture_method(self, method=None, **_):
        return method if method is not None else (lambda fn: fn)


def service_tracer():
    """Powertools' Tracer when DEEP_TRACING is true, else a pass-through.

    Lambda's active tracing (template.yaml) records every invocation either way. The Tracer adds
    subsegments for each AWS call, and importing the X-Ray SDK for that costs ~130 ms of every
    cold start, so it is opt-in (template parameter DeepTracing).
    """
    if os.environ.get("DEEP_TRACING", "false").lower() == "true":
        from aws_lambda_powertools import Tracer

        return Tracer(service=SERVICE_NAME)
    return _NoTracer()


def service_logger() -> Logger:
    """The handlers' logger: Powertools JSON logs, secrets masked."""
    return Logger(service=SERVICE_NAME, logger_formatter=RedactingFormatter())
