"""Keep the local table across restarts and crashes: every acknowledged write, item by item, in SQLite.

moto keeps its tables in memory. `local.stack` serialises every DynamoDB request under one lock; after
each request that wrote, it hands this module the keys that request touched, and this module reads
exactly those items back from moto and upserts (or deletes) them in ``<state dir>/dynamodb.sqlite3``,
committing before the lock is released and the request is answered. So the cost of a write does not
depend on the table's size, and a write the caller saw acknowledged is on disk.

Durability: WAL journal with ``synchronous=NORMAL``. A commit is in the WAL file (the OS's page cache)
before it returns, so killing the process at any moment (``kill -9`` included) loses no committed write;
only an operating-system crash or power loss may roll back the last commits (never corrupting the
file). ``LOCAL_SQLITE_SYNCHRONOUS=FULL`` fsyncs every commit as well, at the cost of one fsync per write.

A ``dynamodb.json`` snapshot left by earlier versions is imported once and renamed aside.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DATABASE_FILE = "dynamodb.sqlite3"
LEGACY_SNAPSHOT_FILE = "dynamodb.json"
SYNCHRONOUS_MODES = ("NORMAL", "FULL")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    table_name TEXT NOT NULL,
    hash_key   TEXT NOT NULL,
    range_key  TEXT NOT NULL,
    item       TEXT NOT NULL,
    PRIMARY KEY (table_name, hash_key, range_key)
) WITHOUT ROWID
"""


def key_text(value: dict[str, Any] | None) -> str:
    """One text per key value, whatever its spelling in the request ("1.0" and "1" are one number key)."""
    if value is None:
        return ""
    if "N" in value:
        return json.dumps({"N": str(Decimal(value["N"]).normalize())})
    return json.dumps(value, sort_keys=True)


class TableStore:
    """The SQLite side of the local tables. Used only under local.stack's DynamoDB lock (and at start-up)."""

    def __init__(self, path: Path, synchronous: str = "NORMAL"):
        synchronous = synchronous.upper()
        if synchronous not in SYNCHRONOUS_MODES:
            raise ValueError(f"LOCAL_SQLITE_SYNCHRONOUS is one of {', '.join(SYNCHRONOUS_MODES)}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # One connection, used by whichever thread holds the DynamoDB lock; isolation_level=None: explicit
        # transactions only.
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        path.chmod(0o600)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={synchronous}")
        self.db.execute(_SCHEMA)
        self.writes = 0  # items written or deleted since start-up

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------ start-up
    def load(self, table) -> int:
        """Put every stored item of this moto table into it (cold: built when first read); returns how many."""
        from local import cold_items

        count = 0
        rows = self.db.execute("SELECT item FROM items WHERE table_name = ?", (table.name,))
        for (text,) in rows:
            cold_items.load_text(table, text)
            count += 1
        return count

    def migrate_snapshot(self, snapshot: Path, table) -> int:
        """Import an old whole-table JSON snapshot once (into moto and SQLite), then rename it aside."""
        if not snapshot.exists():
            return 0
        items = json.loads(snapshot.read_text())
        self.db.execute("BEGIN")
        try:
            for attrs in items:
                stored = table.put_item(attrs, overwrite=True)
                self._upsert(table, stored)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        snapshot.rename(snapshot.with_name(snapshot.name + ".migrated"))
        logger.warning("imported %d items from %s into %s", len(items), snapshot, self.path)
        return len(items)

    # ----------------------------------------------------------- per write
    def write_through(self, touched: Iterable[tuple[Any, str, dict[str, Any]]]) -> None:
        """Store the current state of each touched (backend, table, key): read back from moto by key, one commit."""
        from moto.dynamodb.exceptions import MockValidationException

        self.db.execute("BEGIN")
        try:
            done: set[tuple[str, str, str]] = set()
            for backend, table_name, key in touched:
                table = backend.tables.get(table_name)
                if table is None:
                    continue
                hash_value = key.get(table.hash_key_attr)
                range_value = key.get(table.range_key_attr) if table.range_key_attr else None
                if hash_value is None or (table.range_key_attr and range_value is None):
                    continue  # a request moto refused for its key: nothing was written
                slot = (table.name, key_text(hash_value), key_text(range_value))
                if slot in done:
                    continue
                done.add(slot)
                try:
                    item = backend.get_item(table_name, key)
                except MockValidationException:  # a key of the wrong shape: moto refused the write, nothing changed
                    continue
                if item is None:
                    self.db.execute("DELETE FROM items WHERE table_name = ? AND hash_key = ? AND range_key = ?", slot)
                else:
                    self._upsert(table, item)
                self.writes += 1
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _upsert(self, table, item) -> None:
        attrs = item.to_json()["Attributes"]
        range_value = attrs.get(table.range_key_attr) if table.range_key_attr else None
        self.db.execute(
            "INSERT OR REPLACE INTO items (table_name, hash_key, range_key, item) VALUES (?, ?, ?, ?)",
            (table.name, key_text(attrs[table.hash_key_attr]), key_text(range_value), json.dumps(attrs)),
        )

    def count(self, table_name: str) -> int:
        return self.db.execute("SELECT count(*) FROM items WHERE table_name = ?", (table_name,)).fetchone()[0]
