"""Time and ids, in one place so every record uses the same formats.

Every wall-clock read of the service goes through :func:`now`, so a test can step time
deterministically (:func:`reading`) instead of sleeping until it passes.
"""

from __future__ import annotations

import contextlib
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

_source: Callable[[], float] = time.time


def now() -> float:
    """Seconds since the epoch, from the current time source."""
    return _source()


@contextlib.contextmanager
def reading(source: Callable[[], float]) -> Iterator[None]:
    """Read the time from ``source`` (seconds since the epoch) inside the block: for tests."""
    global _source
    previous, _source = _source, source
    try:
        yield
    finally:
        _source = previous


def now_iso() -> str:
    """ISO 8601 UTC with milliseconds: sorts as text in creation order."""
    return datetime.fromtimestamp(now(), UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_epoch() -> int:
    return int(now())


def new_session_id() -> str:
    return str(uuid.uuid4())


def new_run_id() -> str:
    # Trigger.dev-style; also a valid Step Functions execution name.
    return f"run_{secrets.token_hex(12)}"
