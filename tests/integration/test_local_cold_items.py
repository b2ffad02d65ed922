"""The local table keeps only the items used lately as moto's objects; the others as text, built again when read.

Without it every item written stayed a tree of ~27 Python objects (4-5 kB), so a long-running `make serve` grew
by about 6.6 kB of RSS per item written, past the issue's 20% in a five-minute soak.
"""

import contextlib
import gc
import time
import tracemalloc

import pytest

from local import cold_items
from local.stack import LocalStack
from outreach.config import SettingsError
from tests.integration.test_local_engine import _item_calls, _same_shape


def _pool(stack):
    return cold_items.pool_of(stack._moto_table())


@contextlib.contextmanager
def live_capacity(stack, capacity: int):
    """Every request ends with at most ``capacity`` items live (0: all cold between requests)."""
    from local.dynamodb_writes import holding_the_table

    pool = _pool(stack)
    before, pool.capacity = pool.capacity, capacity
    try:
        with holding_the_table():
            cold_items.settle()
        yield pool
    finally:
        pool.capacity = before


def _lead_item(run: str, i: int) -> dict:
    """A lead record as a run writes it: a dozen attributes, an email body of a few hundred characters."""
    return {"pk": {"S": f"R#{run}"}, "sk": {"S": f"LEAD#{i:05d}"}, "status": {"S": "completed"},
            "lead_index": {"N": str(i)}, "attempts": {"N": "1"}, "model": {"S": "gpt-4.1-mini"},
            "expires_at": {"N": "1796432429"}, "subject": {"S": f"A quick idea for Company {i}"},
            "body": {"S": f"Hi Person {i},\n\n" + "I came across your work at Company and wondered. " * 6},
            "review": {"M": {"ok": {"BOOL": True}, "checks": {"L": [{"S": "grounded"}, {"S": "no_other_lead"}]}}},
            "usage": {"M": {"input_tokens": {"N": "490"}, "output_tokens": {"N": "31"}}},
            "finished_at": {"S": "2026-11-28T04:00:00.000000+00:00"}, "workspace_id": {"S": "ws_a"}}


def test_a_table_of_many_items_holds_a_small_fraction_of_their_objects(stack):
    client = stack.client("dynamodb")
    for i in range(200):  # the clients' and moto's first-call caches, not counted
        client.put_item(TableName=stack.table_name, Item=_lead_item("warm-up", i))
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        with live_capacity(stack, 200):
            for i in range(3000):
                client.put_item(TableName=stack.table_name, Item=_lead_item("memory", i))
            gc.collect()
            held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # As moto's objects these items hold about 3.6 kB each (11 MB for 3,000); as text, about 1.4 kB (their JSON
    # is 841 characters), plus the 200 kept live.
    assert held / 3000 < 2400, f"{held / 3000:.0f} bytes an item"
    # And every one of them reads back as written.
    pages = client.get_paginator("query").paginate(TableName=stack.table_name, KeyConditionExpression="pk = :p",
                                                   ExpressionAttributeValues={":p": {"S": "R#memory"}})
    assert [item for page in pages for item in page["Items"]] == [_lead_item("memory", i) for i in range(3000)]


def test_every_item_call_answers_the_same_whether_its_items_are_live_or_cold(stack):
    """Every item operation the store uses (conditions, updates, ALL_OLD, transactions, GSI and partition
    queries, deletes), once with items kept live and once with every item made cold between requests."""
    client = stack.client("dynamodb")
    live = _item_calls(client, stack.table_name, "live")
    with live_capacity(stack, 0) as pool:
        built = pool.built
        cold = _item_calls(client, stack.table_name, "cold")
        assert pool.built > built, "the cold run read items back from their text"
    assert [_same_shape(a, "live") for a in live] == [_same_shape(a, "cold") for a in cold]


def test_queries_over_cold_items_page_as_over_live_ones(stack):
    client = stack.client("dynamodb")
    for i in range(30):
        client.put_item(TableName=stack.table_name, Item={
            "pk": {"S": f"S#cold-list-{i:02d}"}, "sk": {"S": "SESSION"}, "gsi1pk": {"S": "C#cold-list"},
            "gsi1sk": {"S": f"2026-11-{(i % 9) + 1:02d}#{i:02d}"}, "title": {"S": f"session {i}"}})
        client.put_item(TableName=stack.table_name, Item={
            "pk": {"S": "S#cold-list-00"}, "sk": {"S": f"MSG#{i:05d}"}, "text": {"S": f"message {i}"}})

    def walk(**query) -> list:
        pages, start = [], None
        while True:
            page = client.query(TableName=stack.table_name, Limit=7, **query,
                                **({"ExclusiveStartKey": start} if start else {}))
            pages.append(page["Items"])
            start = page.get("LastEvaluatedKey")
            if not start:
                return pages

    by_campaign = {"IndexName": "by_campaign", "KeyConditionExpression": "gsi1pk = :c", "ScanIndexForward": False,
                   "ExpressionAttributeValues": {":c": {"S": "C#cold-list"}}}
    messages = {"KeyConditionExpression": "pk = :p AND begins_with(sk, :m)",
                "ExpressionAttributeValues": {":p": {"S": "S#cold-list-00"}, ":m": {"S": "MSG#"}}}
    live = walk(**by_campaign), walk(**messages)
    with live_capacity(stack, 0):
        from local import dynamodb_queries

        dynamodb_queries.forget(stack._moto_table())  # the index map rebuilt from cold items too
        cold = walk(**by_campaign), walk(**messages)
    assert cold == live
    assert sum(len(p) for p in live[0]) == 30 and sum(len(p) for p in live[1]) == 30


def test_an_update_reads_the_cold_item_and_a_later_read_sees_the_update(stack):
    client = stack.client("dynamodb")
    key = {"pk": {"S": "R#cold-update"}, "sk": {"S": "LEAD#00001"}}
    client.put_item(TableName=stack.table_name, Item=_lead_item("cold-update", 1))
    with live_capacity(stack, 0):
        out = client.update_item(TableName=stack.table_name, Key=key, UpdateExpression="ADD attempts :one",
                                 ConditionExpression="#s = :done", ExpressionAttributeNames={"#s": "status"},
                                 ExpressionAttributeValues={":one": {"N": "1"}, ":done": {"S": "completed"}},
                                 ReturnValues="UPDATED_NEW")
        assert out["Attributes"] == {"attempts": {"N": "2"}}
        item = client.get_item(TableName=stack.table_name, Key=key)["Item"]
    assert item == {**_lead_item("cold-update", 1), "attempts": {"N": "2"}}


def test_expired_cold_items_are_swept_and_live_ones_too(stack):
    client = stack.client("dynamodb")
    now = int(time.time())
    for name in ("cold", "live"):
        client.put_item(TableName=stack.table_name, Item={"pk": {"S": f"TTL#{name}-swept"}, "sk": {"S": "ITEM"},
                                                          "expires_at": {"N": str(now - 5)}})
    with live_capacity(stack, 0):
        client.get_item(TableName=stack.table_name, Key={"pk": {"S": "TTL#live-swept"}, "sk": {"S": "ITEM"}})
        assert stack.ttl.sweep(now=now) >= 2
    for name in ("cold", "live"):
        assert "Item" not in client.get_item(TableName=stack.table_name,
                                             Key={"pk": {"S": f"TTL#{name}-swept"}, "sk": {"S": "ITEM"}})


@pytest.mark.parametrize("value", ["many", "-1", "2.5"])
def test_a_live_capacity_it_cannot_use_stops_the_stack_naming_the_variable(value):
    with pytest.raises(SettingsError, match="LOCAL_DYNAMODB_LIVE_ITEMS"):
        LocalStack(env={"LOCAL_DYNAMODB_LIVE_ITEMS": value})


def test_concurrent_updates_of_cold_items_lose_none(stack):
    """Items are made cold only between requests: eight threads adding to the same twenty items, with every item
    cold after each request, lose no increment and see no error."""
    from concurrent.futures import ThreadPoolExecutor

    client = stack.client("dynamodb")
    keys = [{"pk": {"S": "R#cold-counters"}, "sk": {"S": f"LEAD#{i:05d}"}} for i in range(20)]
    for key in keys:
        client.put_item(TableName=stack.table_name, Item={**key, "n": {"N": "0"}})

    def add(worker: int) -> None:
        for round_ in range(50):
            key = keys[(worker * 7 + round_) % len(keys)]
            client.update_item(TableName=stack.table_name, Key=key, UpdateExpression="ADD n :one",
                               ConditionExpression="attribute_exists(pk)",
                               ExpressionAttributeValues={":one": {"N": "1"}})
            client.get_item(TableName=stack.table_name, Key=keys[round_ % len(keys)])

    with live_capacity(stack, 0), ThreadPoolExecutor(8) as pool:
        list(pool.map(add, range(8)))
    counts = [int(client.get_item(TableName=stack.table_name, Key=key)["Item"]["n"]["N"]) for key in keys]
    assert sum(counts) == 8 * 50
