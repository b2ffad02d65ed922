"""Items not used lately kept as their DynamoDB JSON text, and built again into moto's objects when read.

moto keeps each item as a tree of Python objects: about 27 ``DynamoType`` objects, their dicts and strings, some
4-5 kB for an item whose DynamoDB JSON is under 1 kB. A ``make serve`` therefore grew by about 6.6 kB of RSS for
every item written, for as long as it ran: a five-minute soak of 16 clients grew it by more than a fifth.
DynamoDB itself keeps items on disk and reads the ones a request names.

Here each partition of the table (moto's dict of range key -> ``Item``) is a ``Partition`` mapping. The
``LIVE_ITEMS`` items used most recently stay moto's objects; the others are held as the compact JSON text of their
attributes, and turned back into an ``Item`` (moto's own constructor: the same types, the same 400 KB measure)
the moment moto's code reads them: by key, by a query's window, by a Scan. Nothing of moto's actions changes.

An item is made cold only when no request is halfway through: ``settle`` runs under the one DynamoDB lock, once
a request's action and its write-through to SQLite are over (local.dynamodb_writes). So an item a request reads
and then updates in place stays the same object for the whole request, and an item is made cold from the state
that request left. Code that lists the whole table (the TTL sweep, the start-up scan for orphaned claims, the
GSI map) reads cold items' attributes from their text (``attributes``), without making them live again.
"""

from __future__ import annotations

import functools
import json
import weakref
from collections import OrderedDict
from collections.abc import Iterator, MutableMapping
from typing import Any

LIVE_ITEMS = 2000  # per table: enough for the runs in flight (a 100-lead run reads ~105 items), ~10 MB of objects
_pools: weakref.WeakSet = weakref.WeakSet()


def live_items_setting(env: dict[str, str]) -> int:
    """LOCAL_DYNAMODB_LIVE_ITEMS (default 2000), checked before the stack starts."""
    raw = env.get("LOCAL_DYNAMODB_LIVE_ITEMS") or str(LIVE_ITEMS)
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        from outreach.config import SettingsError

        raise SettingsError("LOCAL_DYNAMODB_LIVE_ITEMS must be a whole number of items, 0 or more.")
    return value


@functools.lru_cache(maxsize=256)
def _quoted(name: str) -> str:
    """An attribute name as it appears in an item's text."""
    return json.dumps(name, ensure_ascii=False)


def _text_of(item) -> str:
    return json.dumps(item.to_json()["Attributes"], separators=(",", ":"), ensure_ascii=False)


class _Pool:
    """One table's live items, least recently used first: (id of partition, range key) -> partition."""

    __slots__ = ("capacity", "recent", "built", "made_cold", "__weakref__")

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.recent: OrderedDict[tuple[int, Any], Partition] = OrderedDict()
        self.built = 0  # cold items built again since start-up
        self.made_cold = 0

    def used(self, partition: Partition, range_key) -> None:
        key = (id(partition), range_key)  # the partition is kept by the value: its id is not reused meanwhile
        recent = self.recent
        if key in recent:
            recent.move_to_end(key)
        else:
            recent[key] = partition

    def settle(self) -> None:
        recent = self.recent
        while len(recent) > self.capacity:
            (_, range_key), partition = recent.popitem(last=False)
            slots = partition._slots
            value = slots.get(range_key)
            if value is not None and type(value) is not str:
                slots[range_key] = _text_of(value)
                self.made_cold += 1


class Partition(MutableMapping):
    """A partition's items by range key: moto's ``Item`` objects, or the JSON text of the cold ones."""

    __slots__ = ("_slots", "_pool", "_hash_key")

    def __init__(self, pool: _Pool, hash_key):
        self._slots: dict[Any, Any] = {}
        self._pool = pool
        self._hash_key = hash_key

    def __getitem__(self, range_key):
        value = self._slots[range_key]
        if type(value) is str:
            from moto.dynamodb.models.dynamo_type import Item

            value = Item(self._hash_key, range_key, json.loads(value))
            self._slots[range_key] = value
            self._pool.built += 1
        self._pool.used(self, range_key)
        return value

    def __setitem__(self, range_key, item) -> None:
        self._slots[range_key] = item
        self._pool.used(self, range_key)

    def __delitem__(self, range_key) -> None:
        del self._slots[range_key]  # its place in the pool, if any, is dropped when it comes up for settling

    def __contains__(self, range_key) -> bool:  # Mapping's would build the item
        return range_key in self._slots

    def __iter__(self) -> Iterator:
        return iter(self._slots)

    def __len__(self) -> int:
        return len(self._slots)

    def __repr__(self) -> str:
        return f"Partition({len(self._slots)} items)"

    def put_text(self, range_key, text: str) -> None:
        """An item as stored (start-up): cold until read."""
        self._slots[range_key] = text

    def raw(self, range_key):
        """The item as held: an ``Item``, its JSON text if cold, or None. Read without making it live."""
        return self._slots.get(range_key)


class _Partitions(dict):
    """The table's ``items``: hash key -> Partition, made on first use as moto's defaultdict(dict) would."""

    __slots__ = ("pool",)

    def __missing__(self, hash_key) -> Partition:
        partition = self[hash_key] = Partition(self.pool, hash_key)
        return partition


def install(table, capacity: int = LIVE_ITEMS) -> None:
    """Give a moto table (with a range key) partitions that keep only ``capacity`` items live."""
    if not table.range_key_attr or isinstance(table.items, _Partitions):
        return
    pool = _Pool(capacity)
    partitions = _Partitions()
    partitions.pool = pool
    for hash_key, items in table.items.items():
        partition = partitions[hash_key]
        for range_key, item in items.items():
            partition[range_key] = item
    table.items = partitions
    _pools.add(pool)
    pool.settle()


def pool_of(table) -> _Pool | None:
    items = getattr(table, "items", None)
    return items.pool if isinstance(items, _Partitions) else None


def settle() -> None:
    """Make cold the items past each table's capacity. Called under the DynamoDB lock, between requests."""
    for pool in list(_pools):
        if len(pool.recent) > pool.capacity:
            pool.settle()


def load_text(table, text: str) -> None:
    """Put an item as stored in SQLite into the table, cold (built only when read)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    if not isinstance(table.items, _Partitions):
        table.put_item(json.loads(text), overwrite=True)
        return
    attrs = json.loads(text)
    table.items[DynamoType(attrs[table.hash_key_attr])].put_text(DynamoType(attrs[table.range_key_attr]), text)


def each_item(table) -> list[tuple[Any, Any, Any]]:
    """(hash key, range key, item as held: ``Item`` or JSON text) of every item, none built. Call under the lock;
    read the attributes (``attributes``) after it: a cold item's text never changes."""
    found = []
    for hash_key, partition in table.items.items():
        if isinstance(partition, Partition):
            found.extend((hash_key, range_key, value) for range_key, value in partition._slots.items())
        elif table.range_key_attr:
            found.extend((hash_key, range_key, value) for range_key, value in partition.items())
        else:
            found.append((hash_key, None, partition))
    return found


def held(table, hash_key, range_key):
    """One item as held (``Item``, JSON text or None), without building it."""
    value = table.items.get(hash_key)
    if value is None or range_key is None:
        return value
    return value.raw(range_key) if isinstance(value, Partition) else value.get(range_key)


def attributes(value, names) -> dict[str, Any]:
    """The attributes among ``names`` of an item as held, as DynamoType values; a cold one stays cold."""
    if value is None:
        return {}
    if type(value) is not str:
        attrs = value.attrs
        return {name: attrs[name] for name in names if name in attrs}
    from moto.dynamodb.models.dynamo_type import DynamoType

    if not any(_quoted(name) in value for name in names):  # most lack it: no parse
        return {}
    attrs = json.loads(value)
    return {name: DynamoType(attrs[name]) for name in names if name in attrs}
