"""Live progress without busy polling: answer a run read as soon as its version passes the client's, or at the end
of the wait.

The client does not poll; this request does, against the store, at a short interval and for a bounded time
(``wait`` is at most 20 s, under API Gateway's 29 s). Each look reads the run item and counts its finished leads
(a Query that returns a count, not the items); the full view is built once, for the answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from outreach.config import env
from outreach.dal.base import FINAL_STATUSES, RunSessionStore
from outreach.logic.runs import GENERATE, run_version, run_view
from outreach.models.items import RunItem

MAX_WAIT_S = 20


def poll_interval_s() -> float:
    """How often a waiting request looks at the store (RUN_WAIT_POLL_MS, default 50 ms): a change reaches the
    client within about that much."""
    return max(10, int(env("RUN_WAIT_POLL_MS", "50"))) / 1000


def current_version(store: RunSessionStore, run: RunItem) -> int:
    return run_version(run, store.count_finished_leads(run.id) if run.kind == GENERATE else 0)


def wait_for_change(
    store: RunSessionStore,
    run: RunItem,
    *,
    after: int | None,
    wait_s: float,
    interval_s: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """The run's view once its version is past ``after``, or after ``wait_s`` seconds as it then is.

    Without ``after``, or for a run that has finished (its version cannot grow), the answer is immediate.
    """
    interval = poll_interval_s() if interval_s is None else interval_s
    deadline = clock() + min(max(wait_s, 0.0), MAX_WAIT_S)
    while after is not None and run.status not in FINAL_STATUSES and current_version(store, run) <= after:
        left = deadline - clock()
        if left <= 0:
            break
        time.sleep(min(interval, left))
        run = store.get_run(run.id) or run
    return run_view(store, run)
