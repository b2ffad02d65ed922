"""The lead worker's review metrics (EMF): examples needing review, repairs, and a count per check."""

import importlib.util
import json
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "functions" / "generate_lead" / "app.py"


@pytest.fixture
def handler_module(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    spec = importlib.util.spec_from_file_location("generate_lead_app_under_test", APP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.metrics.clear_metrics()
    yield module
    module.metrics.clear_metrics()


def test_a_flagged_example_counts_once_and_each_check_once_by_name(handler_module, capsys):
    handler_module.add_review_metrics(
        {"verdict": "needs_review", "checks": ["ungrounded_fact", "spam_phrase"], "attempts": 2}
    )
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    per_check = sorted((b["check"], b["ReviewFlags"]) for b in blobs)
    assert per_check == [("spam_phrase", [1.0]), ("ungrounded_fact", [1.0])]
    assert all(["service", "check"] in b["_aws"]["CloudWatchMetrics"][0]["Dimensions"] for b in blobs)
    assert set(handler_module.metrics.metric_set) == {"ExamplesNeedingReview", "ReviewRepairs"}


def test_an_ok_example_adds_no_review_metric(handler_module, capsys):
    handler_module.add_review_metrics({"verdict": "ok", "checks": [], "attempts": 1})
    assert capsys.readouterr().out == ""
    assert handler_module.metrics.metric_set == {}
