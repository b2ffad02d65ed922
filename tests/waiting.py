"""Waiting on a condition with a deadline: how tests synchronise with background work (never a fixed sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

POLL_S = 0.02  # how often the condition is re-read; it bounds nothing, the deadline does


def wait_until(predicate: Callable[[], Any], timeout_s: float = 60, what: str = "the condition") -> Any:
    """The first truthy value of ``predicate()``; AssertionError naming ``what`` if none comes within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(POLL_S)


class SteppedClock:
    """A wall clock that moves only when told to: pass it to ``outreach.clock.reading``."""

    def __init__(self, start: float | None = None):
        self.value = time.time() if start is None else start

    def __call__(self) -> float:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += seconds
