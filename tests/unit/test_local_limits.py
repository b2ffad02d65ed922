"""The local stack's Lambda limits, without the stack: a timeout, a large answer, errors and context."""

import threading
from contextvars import ContextVar

import pytest

from local.limits import LAMBDA_RESPONSE_LIMIT_BYTES, Limits, ResponseTooLarge, SandboxTimedOut

REQUEST = ContextVar("request", default=None)


def test_a_handler_past_its_timeout_fails_as_lambda_reports_it_and_is_abandoned():
    limits = Limits(time_scale=0.01)  # a 10 s timeout becomes 0.1 s
    release = threading.Event()
    with pytest.raises(SandboxTimedOut) as timed_out:
        limits.invoke("Fn", 10, "req-1", lambda: release.wait(30))
    release.set()
    assert timed_out.value.error_type == "Sandbox.Timedout"
    assert "Task timed out after 0.10 seconds" in str(timed_out.value)
    assert limits.timed_out == ["Fn"]


def test_a_handler_within_its_timeout_answers_with_the_callers_context():
    token = REQUEST.set("req-2")
    try:
        assert Limits().invoke("Fn", 10, "req-2", REQUEST.get) == "req-2"
    finally:
        REQUEST.reset(token)


def test_a_handlers_error_reaches_the_caller():
    def crash():
        raise KeyError("boom")

    with pytest.raises(KeyError):
        Limits().invoke("Fn", 10, "req-3", crash)


def test_an_answer_over_6_mb_fails_and_one_just_under_passes():
    fits = {"b": "x" * (LAMBDA_RESPONSE_LIMIT_BYTES - 20)}
    assert Limits().invoke("Fn", 10, "r", lambda: fits) is fits
    with pytest.raises(ResponseTooLarge) as refused:
        Limits().invoke("Fn", 10, "r", lambda: {"b": "x" * LAMBDA_RESPONSE_LIMIT_BYTES})
    assert refused.value.error_type == "Function.ResponseSizeTooLarge"


def test_the_time_scale_must_be_positive():
    with pytest.raises(ValueError):
        Limits.from_env({"LOCAL_TIME_SCALE": "0"})
