"""Executions that an API request starts begin running once the request is answered.

The whole local stack shares one interpreter: an execution's thread, started inside a dispatch, takes the GIL
from the request thread that still has to finish the handler and write the answer, so the dispatch's answer
waited on its own run (p50 40 ms where the dispatch itself needs about 10 ms of CPU). On AWS the API function
has its own machine, and StartExecution only queues the execution, which begins tens of milliseconds later.
Here the worker threads of executions started while a request is handled are held and started when the HTTP
front has written the answer: the execution is RUNNING from StartExecution on, as before, and begins a few
milliseconds later. Synchronous (Express StartSyncExecution) executions run inline as before.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator


class _Hold:
    """Execution threads waiting for one request to be answered. A handler runs on a Lambda worker thread with a
    copy of the request's context, so the hold travels in a context variable; a handler that outlives its request
    (timed out) starts its executions at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] | None = []

    def keep(self, thread: threading.Thread) -> bool:
        with self.lock:
            if self.threads is None:
                return False
            self.threads.append(thread)
            return True

    def release(self) -> None:
        with self.lock:
            threads, self.threads = self.threads or [], None
        for thread in threads:
            thread.start()


_hold: contextvars.ContextVar[_Hold | None] = contextvars.ContextVar("outreach_execution_hold", default=None)


@contextlib.contextmanager
def held_until_answered() -> Iterator[None]:
    """Execution threads started inside this block (and the handlers it invokes) start when it ends."""
    if _hold.get() is not None:  # nested: the outer block starts them
        yield
        return
    hold = _Hold()
    token = _hold.set(hold)
    try:
        yield
    finally:
        _hold.reset(token)
        hold.release()


def install() -> None:
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
    from moto.stepfunctions.parser.utils import TMP_THREADS

    if getattr(ExecutionWorker, "_outreach_held", False):
        return

    def start(self) -> None:
        # ExecutionWorker.start, with the thread held while a request is being answered
        thread = threading.Thread(target=self._execution_logic, daemon=True)
        TMP_THREADS.append(thread)
        hold = _hold.get()
        if hold is None or not hold.keep(thread):
            thread.start()

    ExecutionWorker.start = start
    ExecutionWorker._outreach_held = True
