"""Reused threads for the local stack's Lambda invokes: one per invoke in flight, none kept idle for long.

Handlers run on reused threads because starting a thread per invoke waits for it to start, which a hundred
busy Map iterations make slow. concurrent.futures' ThreadPoolExecutor is not used: it marks a worker idle only
after the caller has its result, so a caller that invokes again at once (a client polling, the next state of
an execution) finds no idle worker and a new thread is started. Measured: 72 invokes in flight grew its pool
to its whole cap of 1,024 threads, and a long-running ``make serve`` held ~200 MB in their stacks. Here a
worker is idle (and can take the next invoke) before its caller wakes, and a worker idle for ``idle_s``
ends, so the threads follow the invokes in flight.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any


class HandlerThreads:
    def __init__(self, name: str, idle_s: float = 30.0):
        self.name, self.idle_s = name, idle_s
        self._lock = threading.Lock()
        self._idle: list[queue.SimpleQueue] = []  # each idle worker's inbox; the last one idled is used first
        self._started = 0

    def submit(self, call: Callable[[], Any]) -> Future:
        future: Future = Future()
        with self._lock:
            inbox = self._idle.pop() if self._idle else None
            if inbox is None:
                self._started += 1
                number = self._started
        if inbox is None:
            inbox = queue.SimpleQueue()
            threading.Thread(target=self._work, args=(inbox,), name=f"{self.name}_{number}", daemon=True).start()
        inbox.put((call, future))
        return future

    def threads(self) -> int:
        """Workers alive now (tests and the soak read it)."""
        prefix = f"{self.name}_"
        return sum(1 for thread in threading.enumerate() if thread.name.startswith(prefix))

    def _work(self, inbox: queue.SimpleQueue) -> None:
        while True:
            try:
                call, future = inbox.get(timeout=self.idle_s)
            except queue.Empty:
                with self._lock:
                    if inbox in self._idle:  # not taken meanwhile: end (else an invoke is on its way)
                        self._idle.remove(inbox)
                        return
                continue
            if not future.set_running_or_notify_cancel():
                self._idle_again(inbox)
                continue
            try:
                result = call()
            except BaseException as error:  # noqa: BLE001 - the caller gets it from the future
                self._idle_again(inbox)
                future.set_exception(error)
            else:
                self._idle_again(inbox)  # idle before the caller wakes, so its next invoke finds this thread
                future.set_result(result)
            del call, future

    def _idle_again(self, inbox: queue.SimpleQueue) -> None:
        with self._lock:
            self._idle.append(inbox)
