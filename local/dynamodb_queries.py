"""Queries that read one partition (or one GSI key) instead of sorting the whole table.

moto answers every Query, on the table or on an index, by listing and sorting all the table's items
(``Table.all_items``) and then filtering them: a query's cost grows with the table, and at 20,000 items
every session read, run read and campaign list pays for all of them. DynamoDB reads only the partition.

Here a query is given only its candidates: for the table, the items of the queried hash key (moto keeps
them in a dict per hash key already); for a global secondary index, the items whose index hash key has the
queried value, from a map kept up to date by every write (local.dynamodb_writes calls ``refresh`` for each
key a write touched, under the DynamoDB lock). moto then filters, sorts and pages those candidates exactly
as before. The map is built on a table's first index query, and rebuilt after a bulk load (``forget``).
"""

from __future__ import annotations

import threading
from typing import Any

from local.persistence import key_text

_query = threading.local()  # .candidates: the items a query in progress may return


def _index_hash_attrs(table) -> dict[str, str]:
    """index name -> its (single) hash key attribute, for the table's global secondary indexes."""
    out = {}
    for index in table.global_indexes or []:
        hashes = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
        if len(hashes) == 1:
            out[index.name] = hashes[0]
    return out


def _slot(table, item) -> tuple[str, str]:
    return (key_text(item.hash_key.to_json()), key_text(item.range_key.to_json()) if item.range_key else "")


class _IndexMap:
    """For each GSI: hash value text -> {item slot: item}, and item slot -> its hash value text."""

    def __init__(self, table):
        self.attrs = _index_hash_attrs(table)
        self.buckets: dict[str, dict[str, dict[tuple[str, str], Any]]] = {name: {} for name in self.attrs}
        self.member_of: dict[str, dict[tuple[str, str], str]] = {name: {} for name in self.attrs}
        for item in _every_item(table):
            self.put(table, item)

    def put(self, table, item) -> None:
        slot = _slot(table, item)
        for name, attr in self.attrs.items():
            value = item.attrs.get(attr)
            self._move(name, slot, key_text(value.to_json()) if value is not None else None, item)

    def remove(self, slot: tuple[str, str]) -> None:
        for name in self.attrs:
            self._move(name, slot, None, None)

    def _move(self, name: str, slot: tuple[str, str], value: str | None, item) -> None:
        old = self.member_of[name].get(slot)
        if old is not None and old != value:
            bucket = self.buckets[name].get(old, {})
            bucket.pop(slot, None)
            if not bucket:
                self.buckets[name].pop(old, None)
        if value is None:
            self.member_of[name].pop(slot, None)
        else:
            self.buckets[name].setdefault(value, {})[slot] = item
            self.member_of[name][slot] = value


def _every_item(table):
    for partition in table.items.values():
        if table.range_key_attr:
            yield from partition.values()
        else:
            yield partition


def forget(table) -> None:
    """Items were put into the table behind the write hooks (a bulk load): rebuild the map when next needed."""
    table.__dict__.pop("_outreach_index_map", None)


def refresh(backend, table_name: str, key: dict[str, Any]) -> None:
    """Bring the index map up to date for one key that a write touched (if the map exists yet)."""
    table = backend.tables.get(table_name)
    index_map = getattr(table, "_outreach_index_map", None) if table is not None else None
    if index_map is None or not index_map.attrs:
        return
    hash_value = key.get(table.hash_key_attr)
    range_value = key.get(table.range_key_attr) if table.range_key_attr else None
    if hash_value is None:
        return
    slot = (key_text(hash_value), key_text(range_value))
    try:
        item = backend.get_item(table_name, key)
    except Exception:  # noqa: BLE001 (a key moto refuses: that write changed nothing)
        return
    if item is None:
        index_map.remove(slot)
    else:
        index_map.put(table, item)


def _candidates(table, hash_key, index_name, hash_key_conditions) -> list | None:
    if not index_name:
        if hash_key is None:
            return None
        partition = table.items.get(hash_key)
        if partition is None:
            return []
        return list(partition.values()) if table.range_key_attr else [partition]
    index_map = table.__dict__.get("_outreach_index_map")
    if index_map is None:
        index_map = table._outreach_index_map = _IndexMap(table)
    attr = index_map.attrs.get(index_name)
    if attr is None:
        return None  # a local index, or a multi-attribute key: moto's full scan
    values = [v for a, v in (hash_key_conditions or []) if a == attr] or ([hash_key] if hash_key is not None else [])
    if len(values) != 1:
        return None
    return list(index_map.buckets[index_name].get(key_text(values[0].to_json()), {}).values())


def install() -> None:
    from moto.dynamodb.models.table import Table

    if getattr(Table, "_outreach_partition_queries", False):
        return
    query, all_items = Table.query, Table.all_items

    def query_partition(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward,
                        projection_expressions, index_name=None, *args, hash_key_conditions=None, **kwargs):
        _query.candidates = _candidates(self, hash_key, index_name, hash_key_conditions)
        try:
            return query(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
                         scan_index_forward, projection_expressions, index_name, *args,
                         hash_key_conditions=hash_key_conditions, **kwargs)
        finally:
            _query.candidates = None

    def candidates_or_all(self):
        candidates = getattr(_query, "candidates", None)
        if candidates is not None:
            return sorted(candidates, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)
        return all_items(self)

    Table.query, Table.all_items = query_partition, candidates_or_all
    Table._outreach_partition_queries = True
