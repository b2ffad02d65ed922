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


def test_invoke_threads_follow_the_invokes_in_flight_and_idle_ones_end():
    """72 callers that invoke again as soon as they have an answer (clients polling, the next state of an
    execution) need about 72 threads: concurrent.futures' pool started a new one for most such invokes and grew
    to its cap of 1,024, each thread keeping its stack. Threads idle past ``idle_s`` end."""
    from local.handler_threads import HandlerThreads
    from tests.waiting import wait_until

    pool = HandlerThreads("test-invokes", idle_s=0.5)
    in_flight, most = 0, 0
    lock = threading.Lock()

    def handler():
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)
        threading.Event().wait(0.001)  # a short handler: the caller's next invoke follows at once
        with lock:
            in_flight -= 1
        return threading.current_thread().name

    def caller():
        for _ in range(100):
            assert pool.submit(handler).result(timeout=30).startswith("test-invokes_")

    callers = [threading.Thread(target=caller) for _ in range(72)]
    for thread in callers:
        thread.start()
    for thread in callers:
        thread.join()
    assert most <= 72
    assert pool.threads() <= 72 + 8  # a few more than in flight at the busiest moment, never hundreds
    with pytest.raises(KeyError):
        pool.submit(lambda: {}["missing"]).result(timeout=30)
    wait_until(lambda: pool.threads() == 0, 30, "idle invoke threads to end")
    assert pool.submit(lambda: "again").result(timeout=30) == "again"  # a new thread when one is needed
