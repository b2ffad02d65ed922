"""Time and ids, in one place so every record uses the same formats."""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import UTC, datetime


def now_iso() -> str:
    """ISO 8601 UTC with milliseconds: sorts as text in creation order."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_epoch() -> int:
    return int(time.time())


def new_session_id() -> str:
    return str(uuid.uuid4())


def new_run_id() -> str:
    # Trigger.dev-style; also a valid Step Functions execution name.
    return f"run_{secrets.token_hex(12)}"
