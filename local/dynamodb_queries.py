"""Queries that read one partition (or one GSI key) instead of sorting the whole table.

moto answers every Query, on the table or on an index, by listing and sorting all the table's items
(``Table.all_items``) and then filtering them: a query's cost grows with the table, and at 20,000 items
every session read, run read and campaign list pays for all of them. DynamoDB reads only the partition.

Here a query is given only its candidates: for the table, the items of the queried hash key (moto keeps
them in a dict per hash key already); for a global secondary index, the items whose index hash key has the
queried value, from a map kept up to date by every write (local.dynamodb_writes calls ``refresh`` for each
key a write touched, under the DynamoDB lock). moto then filters, sorts and pages those candidates exactly
as before. The map is built on a table's first index query, and rebuilt after a bulk load (``forget``).

Within those candidates a query reads its page, not all of them: each partition and each index key that has
been queried keeps its keys in moto's query order (``_Ordered``, kept up to date by the same ``refresh``), so
a query bisects to where its key condition and ExclusiveStartKey begin and hands moto only the items up to
its Limit, plus the one after them (moto's sign that another page follows). A campaign holding 20,000
sessions lists a page as fast as one holding ten. One difference from moto reading them all, none from
DynamoDB: moto also looks at the sizes of items past the key condition's range, and could end a page there
at 1 MB; they are not read here, as DynamoDB does not read them.
"""

from __future__ import annotations

import bisect
import functools
import threading
from operator import itemgetter
from typing import Any

from local import cold_items
from local.persistence import key_text

_query = threading.local()  # .candidates: the items a query in progress may return


def _key_attrs(index) -> tuple[list[str], list[str]]:
    """An index's hash key attributes and range key attributes, in schema order."""
    return ([k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"],
            [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"])


def _index_hash_attrs(table) -> dict[str, str]:
    """index name -> its (single) hash key attribute, for the table's global secondary indexes."""
    out = {}
    for index in table.global_indexes or []:
        hashes, _ = _key_attrs(index)
        if len(hashes) == 1:
            out[index.name] = hashes[0]
    return out


def _index_sort_attrs(table) -> dict[str, list[str]]:
    """index name -> the attributes moto sorts its query results by, for indexes with one hash and one range key."""
    out = {}
    for index in table.global_indexes or []:
        hashes, ranges = _key_attrs(index)
        if len(hashes) == 1 and len(ranges) == 1:
            out[index.name] = table._generate_attr_to_sort_by(hashes + [table.hash_key_attr],
                                                               ranges + [table.range_key_attr])
    return out


_first = itemgetter(0)


class _Ordered:
    """The keys of one partition or one index key, ascending in moto's query order: (sort key, slot) pairs,
    where the sort key is the tuple of DynamoType values moto sorts by. Sort keys are unique (they end with
    the table's key), so the slot is never compared."""

    __slots__ = ("entries", "sort_key_of")

    def __init__(self, pairs=()):
        self.entries: list[tuple[tuple, Any]] = sorted(pairs, key=_first)
        self.sort_key_of: dict[Any, tuple] = {slot: sort_key for sort_key, slot in self.entries}

    def put(self, slot, sort_key: tuple) -> None:
        old = self.sort_key_of.get(slot)
        if old is not None:
            if old == sort_key:
                return
            self.remove(slot)
        bisect.insort(self.entries, (sort_key, slot), key=_first)
        self.sort_key_of[slot] = sort_key

    def remove(self, slot) -> None:
        sort_key = self.sort_key_of.pop(slot, None)
        if sort_key is not None:
            del self.entries[bisect.bisect_left(self.entries, sort_key, key=_first)]


class _IndexMap:
    """For each GSI: hash value text -> {item slot: (hash key, range key)}, and item slot -> its hash value text;
    for the index keys queried so far, their items in query order. Keys, not items: an item may be cold
    (local.cold_items), and is read through its partition when a query needs it."""

    def __init__(self, table):
        self.table = table
        self.attrs = _index_hash_attrs(table)
        self.sort_attrs = _index_sort_attrs(table)
        self.buckets: dict[str, dict[str, dict[tuple[str, str], tuple]]] = {name: {} for name in self.attrs}
        self.member_of: dict[str, dict[tuple[str, str], str]] = {name: {} for name in self.attrs}
        self.ordered: dict[str, dict[str, _Ordered]] = {name: {} for name in self.attrs}
        names = tuple(set(self.attrs.values()))
        for hash_key, range_key, held in cold_items.each_item(table):
            self._put(hash_key, range_key, cold_items.attributes(held, names))

    def put(self, table, item) -> None:
        self._put(item.hash_key, item.range_key, item.attrs)

    def _put(self, hash_key, range_key, attrs) -> None:
        slot = (key_text(hash_key.to_json()), key_text(range_key.to_json()) if range_key else "")
        for name, attr in self.attrs.items():
            value = attrs.get(attr)
            self._move(name, slot, key_text(value.to_json()) if value is not None else None, (hash_key, range_key),
                       attrs)

    def remove(self, slot: tuple[str, str]) -> None:
        for name in self.attrs:
            self._move(name, slot, None, None, None)

    def _move(self, name: str, slot: tuple[str, str], value: str | None, keys, attrs) -> None:
        old = self.member_of[name].get(slot)
        if old is not None and old != value:
            bucket = self.buckets[name].get(old, {})
            bucket.pop(slot, None)
            if old in self.ordered[name]:
                self.ordered[name][old].remove(slot)
            if not bucket:
                self.buckets[name].pop(old, None)
                self.ordered[name].pop(old, None)
        if value is None:
            self.member_of[name].pop(slot, None)
            return
        self.buckets[name].setdefault(value, {})[slot] = keys
        self.member_of[name][slot] = value
        ordered = self.ordered[name].get(value)
        if ordered is not None:
            sort_key = self._sort_key(name, attrs)
            if sort_key is None:
                ordered.remove(slot)
            else:
                ordered.put(slot, sort_key)

    def _sort_key(self, name: str, attrs) -> tuple | None:
        """None for an item without every sort attribute: moto leaves it out of the index's answers."""
        try:
            return tuple(attrs[attr] for attr in self.sort_attrs[name])
        except KeyError:
            return None

    def ordered_bucket(self, name: str, value: str) -> _Ordered | None:
        if name not in self.sort_attrs:
            return None
        ordered = self.ordered[name].get(value)
        if ordered is None:
            names = self.sort_attrs[name]
            pairs = ((self._sort_key(name, cold_items.attributes(cold_items.held(self.table, *keys), names)), slot)
                     for slot, keys in self.buckets[name][value].items())
            ordered = self.ordered[name][value] = _Ordered(pair for pair in pairs if pair[0] is not None)
        return ordered

    def items(self, keys_list) -> list:
        """The items at these keys (built if cold), as moto's query reads them."""
        found = []
        for hash_key, range_key in keys_list:
            held = self.table.items.get(hash_key)
            if held is not None and range_key is not None:
                held = held.get(range_key)  # a cold item is built here
            if held is not None:
                found.append(held)
        return found


def forget(table) -> None:
    """Items were put into the table behind the write hooks (a bulk load): rebuild the maps when next needed."""
    table.__dict__.pop("_outreach_index_map", None)
    table.__dict__.pop("_outreach_ordered_partitions", None)


def refresh(backend, table_name: str, key: dict[str, Any]) -> None:
    """Bring the index map and the ordered partition up to date for one key that a write touched (if they
    exist yet)."""
    table = backend.tables.get(table_name)
    if table is None:
        return
    index_map = getattr(table, "_outreach_index_map", None)
    if index_map is not None and not index_map.attrs:
        index_map = None
    partitions = table.__dict__.get("_outreach_ordered_partitions")
    hash_value = key.get(table.hash_key_attr)
    range_value = key.get(table.range_key_attr) if table.range_key_attr else None
    if hash_value is None or (index_map is None and not partitions):
        return
    try:
        item = backend.get_item(table_name, key)
    except Exception:  # noqa: BLE001 (a key moto refuses: that write changed nothing)
        return
    if index_map is not None:
        slot = (key_text(hash_value), key_text(range_value))
        if item is None:
            index_map.remove(slot)
        else:
            index_map.put(table, item)
    if partitions and range_value is not None:
        from moto.dynamodb.models.dynamo_type import DynamoType

        hash_key = DynamoType(hash_value)
        ordered = partitions.get(hash_key)
        if ordered is not None:
            range_key = DynamoType(range_value)
            if item is None:
                ordered.remove(range_key)
                if not ordered.entries:  # a deleted session's partition: forgotten, not kept empty
                    del partitions[hash_key]
            else:
                ordered.put(range_key, (range_key,))


def _ordered_partition(table, hash_key) -> _Ordered:
    partitions = table.__dict__.setdefault("_outreach_ordered_partitions", {})
    ordered = partitions.get(hash_key)
    if ordered is None:
        ordered = partitions[hash_key] = _Ordered(((range_key,), range_key)
                                                  for range_key in table.items.get(hash_key, {}))
    return ordered


def _span(entries: list, at: int, comparison: str | None, values: list) -> tuple[int, int] | None:
    """[lo, hi): the entries whose sort key's value at `at` meets the key condition; None: not cut here."""
    if comparison is None:
        return 0, len(entries)
    def at_key(entry):
        return entry[0][at]
    left = functools.partial(bisect.bisect_left, entries, key=at_key)
    right = functools.partial(bisect.bisect_right, entries, key=at_key)
    value = values[0]
    if comparison == "=":
        return left(value), right(value)
    if comparison == "<":
        return 0, left(value)
    if comparison == "<=":
        return 0, right(value)
    if comparison == ">":
        return right(value), len(entries)
    if comparison == ">=":
        return left(value), len(entries)
    if comparison == "BETWEEN":
        lo = left(value)
        return lo, max(lo, right(values[1]))
    if comparison == "BEGINS_WITH" and value.type == "S" and value.value and ord(value.value[-1]) < 0x10FFFF:
        # Strings with the prefix are those from the prefix up to (not including) its successor.
        successor = type(value)({"S": value.value[:-1] + chr(ord(value.value[-1]) + 1)})
        return left(value), left(successor)
    return None


def _window(ordered: _Ordered, sort_attrs: list[str], compared_at: int, range_comparison: str | None,
            range_objs: list, limit: int | None, exclusive_start_key: dict | None, forward: bool) -> list | None:
    """The slots of the items moto needs to answer this page: those meeting the key condition after the start
    key, up to the limit, and the one after them. None when the query is not one this cuts."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    entries = ordered.entries
    try:
        span = _span(entries, compared_at, range_comparison, range_objs)
        if span is None:
            return None
        lo, hi = span
        if exclusive_start_key is not None:
            if any(attr not in exclusive_start_key for attr in sort_attrs):
                return None
            start = tuple(DynamoType(exclusive_start_key[attr]) for attr in sort_attrs)
            if forward:
                lo = max(lo, bisect.bisect_right(entries, start, key=_first))
            else:
                hi = min(hi, bisect.bisect_left(entries, start, key=_first))
    except TypeError:  # values of another type than the key's: moto's comparison decides
        return None
    if lo >= hi:
        return []
    if forward:
        end = hi if limit is None else min(hi, lo + limit)
        return [slot for _, slot in entries[lo:end + 1]]
    begin = lo if limit is None else max(lo, hi - limit)
    return [slot for _, slot in entries[max(0, begin - 1):hi]]


def _candidates(table, hash_key, index_name, hash_key_conditions, range_comparison=None, range_objs=(),
                limit=None, exclusive_start_key=None, forward=True, range_key_conditions=None,
                filter_kwargs=None) -> list | None:
    cut = not filter_kwargs and len(range_key_conditions or []) <= 1
    if not index_name:
        if hash_key is None:
            return None
        partition = table.items.get(hash_key)
        if partition is None:
            return []
        if not table.range_key_attr:
            return [partition]
        if not partition:  # moto keeps a partition's dict when its last item goes
            return []
        if cut:
            slots = _window(_ordered_partition(table, hash_key), [table.range_key_attr], 0, range_comparison,
                            list(range_objs), limit, exclusive_start_key, forward)
            if slots is not None and all(slot in partition for slot in slots):
                return [partition[slot] for slot in slots]
        return list(partition.values())
    index_map = table.__dict__.get("_outreach_index_map")
    if index_map is None:
        index_map = table._outreach_index_map = _IndexMap(table)
    attr = index_map.attrs.get(index_name)
    if attr is None:
        return None  # a local index, or a multi-attribute key: moto's full scan
    values = [v for a, v in (hash_key_conditions or []) if a == attr] or ([hash_key] if hash_key is not None else [])
    if len(values) != 1:
        return None
    value = key_text(values[0].to_json())
    bucket = index_map.buckets[index_name].get(value)
    if not bucket:
        return []
    ordered = index_map.ordered_bucket(index_name, value) if cut else None
    if ordered is not None:
        slots = _window(ordered, index_map.sort_attrs[index_name], 1, range_comparison, list(range_objs), limit,
                        exclusive_start_key, forward)
        if slots is not None and all(slot in bucket for slot in slots):
            return index_map.items([bucket[slot] for slot in slots])
    return index_map.items(list(bucket.values()))


def install() -> None:
    from moto.dynamodb.models.table import Table

    if getattr(Table, "_outreach_partition_queries", False):
        return
    query, all_items = Table.query, Table.all_items

    def query_partition(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward,
                        projection_expressions, index_name=None, consistent_read=False, filter_expression=None,
                        hash_key_conditions=None, range_key_conditions=None, **filter_kwargs):
        _query.candidates = _candidates(self, hash_key, index_name, hash_key_conditions, range_comparison,
                                        range_objs, limit, exclusive_start_key, scan_index_forward is not False,
                                        range_key_conditions, filter_kwargs)
        try:
            return query(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
                         scan_index_forward, projection_expressions, index_name, consistent_read, filter_expression,
                         hash_key_conditions=hash_key_conditions, range_key_conditions=range_key_conditions,
                         **filter_kwargs)
        finally:
            _query.candidates = None

    def candidates_or_all(self):
        candidates = getattr(_query, "candidates", None)
        if candidates is not None:
            return sorted(candidates, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)
        return all_items(self)

    Table.query, Table.all_items = query_partition, candidates_or_all
    Table._outreach_partition_queries = True
