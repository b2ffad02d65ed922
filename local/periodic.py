"""A background job of the local stack: a daemon thread that calls one function at a fixed interval until stopped."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Periodic:
    """Calls ``tick`` every ``interval_s`` (the first time after ``first_after_s``, default one interval). A tick
    that raises is tried again at the next one: a background job must not end the stack's thread."""

    def __init__(self, name: str, tick: Callable[[], object], interval_s: float, first_after_s: float | None = None):
        self.name, self.tick = name, tick
        self.interval_s = interval_s
        self.first_after_s = interval_s if first_after_s is None else first_after_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        wait = self.first_after_s
        while not self._stop.wait(wait):
            wait = self.interval_s
            try:
                self.tick()
            except Exception:  # a tick that fails is tried again at the next one
                continue
