"""The local table's SQLite store: write-through item by item, failed transactions, the old snapshot's import."""

import json

import pytest
from botocore.exceptions import ClientError

from local.stack import LocalStack


@pytest.fixture
def start(tmp_path):
    stacks = []

    def started():
        stack = LocalStack(state_dir=tmp_path, env={"LOCAL_API_KEYS": "ws:k"}, persist=True).start()
        stacks.append(stack)
        return stack, stack.client("dynamodb")

    yield started
    for stack in stacks:
        stack.stop(drain_s=0)


def item(pk, sk="x", **attrs):
    return {"pk": {"S": pk}, "sk": {"S": sk}, **{k: {"S": v} for k, v in attrs.items()}}


def test_each_write_stores_only_the_items_it_touched_whatever_the_table_size(start):
    stack, ddb = start()
    for start_at in range(0, 300, 25):
        ddb.batch_write_item(RequestItems={stack.table_name: [
            {"PutRequest": {"Item": item(f"bulk#{i}")}} for i in range(start_at, start_at + 25)]})
    before = stack.table_store.writes

    ddb.put_item(TableName=stack.table_name, Item=item("one", v="1"))
    ddb.update_item(TableName=stack.table_name, Key={"pk": {"S": "one"}, "sk": {"S": "x"}},
                    UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"S": "2"}})
    ddb.delete_item(TableName=stack.table_name, Key={"pk": {"S": "bulk#0"}, "sk": {"S": "x"}})

    assert stack.table_store.writes - before == 3
    rows = dict(stack.table_store.db.execute("SELECT hash_key, item FROM items").fetchall())
    assert json.loads(rows[json.dumps({"S": "one"})])["v"] == {"S": "2"}
    assert json.dumps({"S": "bulk#0"}) not in rows and len(rows) >= 300


def test_a_failed_transaction_changes_nothing_in_memory_or_on_disk(start):
    stack, ddb = start()
    ddb.put_item(TableName=stack.table_name, Item=item("a", v="1"))
    with pytest.raises(ClientError, match="TransactionCanceled"):
        ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": stack.table_name, "Key": {"pk": {"S": "a"}, "sk": {"S": "x"}},
                        "UpdateExpression": "SET v = :v", "ExpressionAttributeValues": {":v": {"S": "2"}}}},
            {"Put": {"TableName": stack.table_name, "Item": item("new")}},
            {"ConditionCheck": {"TableName": stack.table_name, "Key": {"pk": {"S": "missing"}, "sk": {"S": "x"}},
                                "ConditionExpression": "attribute_exists(pk)"}},
        ])
    key = {"pk": {"S": "a"}, "sk": {"S": "x"}}
    assert ddb.get_item(TableName=stack.table_name, Key=key)["Item"]["v"] == {"S": "1"}
    assert "Item" not in ddb.get_item(TableName=stack.table_name, Key={"pk": {"S": "new"}, "sk": {"S": "x"}})
    stack.stop(drain_s=0)

    stack, ddb = start()
    assert ddb.get_item(TableName=stack.table_name, Key=key)["Item"]["v"] == {"S": "1"}
    assert "Item" not in ddb.get_item(TableName=stack.table_name, Key={"pk": {"S": "new"}, "sk": {"S": "x"}})


def test_a_committed_transaction_is_stored(start):
    stack, ddb = start()
    ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": stack.table_name, "Item": item("t1", v="1")}},
        {"Put": {"TableName": stack.table_name, "Item": item("t2", v="2")}},
    ])
    stack.stop(drain_s=0)

    stack, ddb = start()
    got = ddb.get_item(TableName=stack.table_name, Key={"pk": {"S": "t2"}, "sk": {"S": "x"}})
    assert got["Item"]["v"] == {"S": "2"}


def test_an_old_json_snapshot_is_imported_once_then_set_aside(start, tmp_path):
    (tmp_path / "dynamodb.json").write_text(json.dumps([item("old", v="kept")]))
    stack, ddb = start()
    assert stack.restored >= 1
    assert not (tmp_path / "dynamodb.json").exists() and (tmp_path / "dynamodb.json.migrated").exists()
    ddb.update_item(TableName=stack.table_name, Key={"pk": {"S": "old"}, "sk": {"S": "x"}},
                    UpdateExpression="SET w = :w", ExpressionAttributeValues={":w": {"S": "new"}})
    stack.stop(drain_s=0)

    stack, ddb = start()
    got = ddb.get_item(TableName=stack.table_name, Key={"pk": {"S": "old"}, "sk": {"S": "x"}})["Item"]
    assert got["v"] == {"S": "kept"} and got["w"] == {"S": "new"}
    assert not (tmp_path / "dynamodb.json").exists()


def test_a_restart_loads_items_as_text_and_builds_each_when_first_read(start):
    stack, ddb = start()
    written = [{**item("R#restart", f"LEAD#{i:05d}", status="completed", body=f"Hi {i}, " * 40),
                "usage": {"M": {"tokens": {"N": str(400 + i)}}}} for i in range(50)]
    for attrs in written:
        ddb.put_item(TableName=stack.table_name, Item=attrs)
    stack.stop(drain_s=0)

    again, ddb = start()
    from local import cold_items

    pool = cold_items.pool_of(again._moto_table())
    before = pool.built  # the start-up's own reads (its API key) built at most a few
    items = ddb.query(TableName=again.table_name, KeyConditionExpression="pk = :p",
                      ExpressionAttributeValues={":p": {"S": "R#restart"}})["Items"]
    assert items == written
    assert pool.built - before == 50  # none was built at start-up, each when first read
