"""Keep the local table across restarts and crashes: a snapshot file, rewritten shortly after writes.

moto keeps everything in memory. A background thread rewrites the table to
``<state dir>/dynamodb-<table>.json`` (atomically: temp file, then rename) at
most every ``interval_s`` when something was written, and once more on a clean
stop, so a crash loses at most the last interval.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

_dirty = threading.Event()


def mark_dirty() -> None:
    _dirty.set()


class TableSnapshots:
    def __init__(self, client, table_name: str, path: Path, interval_s: float = 0.5):
        self.client, self.table_name, self.path, self.interval_s = client, table_name, path, interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def load(self) -> int:
        if not self.path.exists():
            return 0
        items = json.loads(self.path.read_text())
        for start in range(0, len(items), 25):
            batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
            pending = {self.table_name: batch}
            while pending:
                pending = self.client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        _dirty.clear()
        return len(items)

    def save(self) -> None:
        items, kwargs = [], {"TableName": self.table_name}
        while True:
            page = self.client.scan(**kwargs)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(items))
        temporary.chmod(0o600)
        os.replace(temporary, self.path)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="table-snapshots", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            if _dirty.is_set():
                _dirty.clear()
                self.save()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.save()
