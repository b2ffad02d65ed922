"""moto's DynamoDB, one request at a time, with each write's touched items known and (optionally) stored.

moto's DynamoDB is not atomic across threads: without one lock a conditional claim can have two winners,
and a read racing a write on one item can fail with 'dictionary changed size during iteration'
(UpdateItem's request layer deep-copies the old item outside the backend call). So every DynamoDB request
runs its action (the backend work) under one lock, as DynamoDB would order them. Inside that lock:

- each backend write (PutItem, UpdateItem, DeleteItem, and the ones BatchWriteItem and
  TransactWriteItems make) records the key it touched, and the request's keys are written through to the
  SQLite store (local.persistence) before the lock is released, so before the caller sees an answer;
- TransactWriteItems keeps a copy of only the items it touches and puts them back if it fails, instead of
  moto's deep copy of the whole table per transaction (whose cost grows with the table);
- each touched key's place in the GSI map of local.dynamodb_queries is brought up to date;
- conditional writes that lose are counted (the benchmark reports them);
- once the request is over, items past the live capacity are made cold (local.cold_items).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import threading
import types
from collections import Counter
from collections.abc import Iterator
from typing import Any

from local import cold_items, dynamodb_queries
from local.persistence import TableStore, key_text

DYNAMODB_REFUSALS: Counter[str] = Counter()  # "operation:exception" -> count, since start-up
_request = threading.local()  # .touched: keys written by the request in progress; .before: pre-images in a transaction
_lock = threading.RLock()  # the one DynamoDB lock; re-entrant: an action may call another wrapped method
_store: list[TableStore] = []
_NOT_ACTIONS = ("call_action", "get_endpoint_name")  # the store of the running persistent stack, if any


@contextlib.contextmanager
def holding_the_table() -> Iterator[None]:
    """The one DynamoDB lock, for code that reads moto's tables in place: no write is halfway through meanwhile."""
    with _lock:
        yield


def attach_store(store: TableStore | None) -> None:
    """Write through to this store from now on (None: to none). Once this returns, no write uses the old one."""
    with _lock:
        _store[:] = [store] if store is not None else []


def install() -> None:
    from moto.dynamodb import models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoDBBackend, "_outreach_locked", False):
        return
    def locked(action):
        @functools.wraps(action)
        def run_locked(self, *args, **kwargs):
            with _lock:
                if getattr(_request, "touched", None) is not None:
                    return action(self, *args, **kwargs)
                _request.touched = touched = []
                try:
                    return action(self, *args, **kwargs)
                finally:
                    _request.touched = None
                    try:
                        if touched and _store:
                            _store[0].write_through(touched)
                    finally:
                        cold_items.settle()  # between requests: no item is halfway through an action

        return run_locked

    # Only the action itself runs under the lock: moto parses the request before it and serialises the
    # answer after it, from fresh copies of the items (Item.to_json), which needs no lock.
    for name, value in list(vars(DynamoHandler).items()):
        if callable(value) and not name.startswith("_") and name not in _NOT_ACTIONS:
            setattr(DynamoHandler, name, locked(value))

    def put_key(backend, table_name: str, item_attrs: dict[str, Any]) -> dict[str, Any]:
        table = backend.tables.get(table_name)
        if table is None:
            return {}
        attrs = (table.hash_key_attr, table.range_key_attr) if table.range_key_attr else (table.hash_key_attr,)
        return {a: item_attrs[a] for a in attrs if a in item_attrs}

    def put_item(self, table_name, item_attrs, *args, **kwargs):
        return _observed(self, "put_item", table_name, put_key(self, table_name, item_attrs),
                         original_put, table_name, item_attrs, *args, **kwargs)

    def update_item(self, table_name, key, *args, **kwargs):
        return _observed(self, "update_item", table_name, key, original_update, table_name, key, *args, **kwargs)

    def delete_item(self, table_name, key, *args, **kwargs):
        return _observed(self, "delete_item", table_name, key, original_delete, table_name, key, *args, **kwargs)

    def transact_write_items(self, transact_items, *args, **kwargs):
        _request.before = before = {}
        try:
            return original_transact(self, transact_items, *args, **kwargs)
        except Exception:
            _restore(self, before)
            raise
        finally:
            _request.before = None

    original_put, original_update = DynamoDBBackend.put_item, DynamoDBBackend.update_item
    original_delete, original_transact = DynamoDBBackend.delete_item, DynamoDBBackend.transact_write_items
    DynamoDBBackend.put_item, DynamoDBBackend.update_item = put_item, update_item
    DynamoDBBackend.delete_item, DynamoDBBackend.transact_write_items = delete_item, transact_write_items
    # moto's transaction deep-copies every table it touches to roll back; the items it touches are kept
    # above instead, so a table copy is the table itself (and a rolled-back table is the same object).
    def deepcopy_but_tables(value, *args):
        return value if isinstance(value, models.Table) else copy.deepcopy(value, *args)

    models.copy = types.SimpleNamespace(copy=copy.copy, deepcopy=deepcopy_but_tables)
    DynamoDBBackend._outreach_locked = True


def _observed(backend, operation: str, table_name: str, key: dict[str, Any], original, *args, **kwargs):
    touched = getattr(_request, "touched", None)
    if touched is not None and key:
        touched.append((backend, table_name, key))
    before = getattr(_request, "before", None)
    if before is not None and key:
        _keep_pre_image(backend, before, table_name, key)
    try:
        return original(backend, *args, **kwargs)
    except Exception as error:
        # Conditional writes that lost (claims, leases, write-once results) are the service's
        # conflicts: the benchmark reports them per run.
        DYNAMODB_REFUSALS[f"{operation}:{type(error).__name__}"] += 1
        raise
    finally:
        if key:
            dynamodb_queries.refresh(backend, table_name, key)


def _keep_pre_image(backend, before: dict, table_name: str, key: dict[str, Any]) -> None:
    table = backend.tables.get(table_name)
    if table is None:
        return
    hash_value = key.get(table.hash_key_attr)
    range_value = key.get(table.range_key_attr) if table.range_key_attr else None
    slot = (table_name, key_text(hash_value), key_text(range_value))
    if slot in before or hash_value is None:
        return
    from moto.dynamodb.exceptions import MockValidationException

    try:
        item = backend.get_item(table_name, key)
    except MockValidationException:  # a key moto refuses: the write will be refused too
        return
    before[slot] = (table_name, key, copy.deepcopy(item) if item is not None else None)


def _restore(backend, before: dict) -> None:
    """Put back each item a failed transaction touched, as it was before the transaction."""
    for table_name, key, item in before.values():
        table = backend.get_table(table_name)
        hash_value, range_value = backend.get_keys_value(table, key)
        if item is None:
            table.delete_item(hash_value, range_value)
        elif range_value is not None:
            table.items[hash_value][range_value] = item
        else:
            table.items[hash_value] = item
        dynamodb_queries.refresh(backend, table_name, key)
