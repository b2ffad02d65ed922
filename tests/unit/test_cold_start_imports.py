"""Functions other than the API load no part of the API's OpenAPI document: on AWS every cold start of a
worker would pay for building its pydantic models (about 200 ms) and never use them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
API_ONLY = ("outreach.api.documentation", "aws_lambda_powertools.event_handler.openapi.models")


@pytest.mark.parametrize("function", ["aggregate", "chat_turn", "generate_lead", "release", "trigger",
                                      "webhook_delivery"])
def test_a_worker_function_does_not_import_the_api_document(function):
    probe = f"import sys, app; print(' '.join(m for m in {API_ONLY!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT / "functions" / function, check=True,
                            capture_output=True, text=True, env={"PYTHONPATH": str(ROOT / "layers" / "shared"),
                                                                 "AWS_DEFAULT_REGION": "us-east-1"})
    assert loaded.stdout.split() == []
