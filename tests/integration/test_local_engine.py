"""The local engine's shortcuts change nothing a client sees: DynamoDB answers written directly are the ones
moto's own serialiser writes."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.waiting import wait_until


def test_item_answers_are_those_of_motos_serialiser(stack, monkeypatch):
    from moto.dynamodb.responses import DynamoHandler

    from local.dynamodb_answers import fast_body

    fast = DynamoHandler.serialized
    compared: list[str] = []

    def both(self, action_result):
        body = fast_body(self._get_action(), action_result.result)
        if body is not None:
            assert json.loads(body) == json.loads(fast.moto_serialized(self, action_result)[2]), self._get_action()
            compared.append(self._get_action())
        return fast(self, action_result)

    monkeypatch.setattr(DynamoHandler, "serialized", both)
    ddb, table = stack.client("dynamodb"), stack.table_name
    key = {"pk": {"S": "engine#1"}, "sk": {"S": "a"}}
    item = {**key, "n": {"N": "12.50"}, "m": {"M": {"x": {"L": [{"S": "é😀"}, {"N": "1"}, {"NULL": True}]}}},
            "b": {"BOOL": False}, "ss": {"SS": ["p", "q"]}, "gsi1pk": {"S": "camp#engine"}, "gsi1sk": {"S": "1"}}
    ddb.put_item(TableName=table, Item=item)
    ddb.put_item(TableName=table, Item={**item, "sk": {"S": "b"}}, ReturnValues="ALL_OLD")
    assert ddb.get_item(TableName=table, Key=key)["Item"]["m"] == item["m"]
    ddb.get_item(TableName=table, Key={"pk": {"S": "none"}, "sk": {"S": "a"}})
    ddb.update_item(TableName=table, Key=key, UpdateExpression="SET n = n + :one, l = :l",
                    ExpressionAttributeValues={":one": {"N": "1"}, ":l": {"L": []}}, ReturnValues="ALL_NEW")
    page = ddb.query(TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": key["pk"]},
                     Limit=1)
    assert page["LastEvaluatedKey"] == key and page["Count"] == 1
    ddb.query(TableName=table, IndexName="by_campaign", KeyConditionExpression="gsi1pk = :g",
              ExpressionAttributeValues={":g": {"S": "camp#engine"}}, Select="COUNT")
    ddb.scan(TableName=table, Limit=5)
    ddb.batch_get_item(RequestItems={table: {"Keys": [key, {"pk": {"S": "none"}, "sk": {"S": "x"}}]}})
    ddb.batch_write_item(RequestItems={table: [{"DeleteRequest": {"Key": {**key, "sk": {"S": "b"}}}}]})
    ddb.transact_get_items(TransactItems=[{"Get": {"TableName": table, "Key": key}}])
    ddb.transact_write_items(TransactItems=[{"Delete": {"TableName": table, "Key": key}}])
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        ddb.delete_item(TableName=table, Key=key, ConditionExpression="attribute_exists(pk)")

    assert {"GetItem", "PutItem", "UpdateItem", "Query", "Scan", "BatchGetItem", "BatchWriteItem",
            "TransactGetItems", "TransactWriteItems"} <= set(compared)


def test_queries_read_one_partition_or_index_key_and_follow_every_write(stack):
    """Queries get only their partition's (or GSI key's) items; the GSI map follows puts, updates that move an
    item to another index key, deletes, batch writes and failed transactions. Checked against Scan, which
    still reads every item."""
    ddb, table = stack.client("dynamodb"), stack.table_name

    def put(pk, sk, campaign=None, order="0"):
        item = {"pk": {"S": pk}, "sk": {"S": sk}}
        if campaign:
            item |= {"gsi1pk": {"S": campaign}, "gsi1sk": {"S": order}}
        ddb.put_item(TableName=table, Item=item)

    def by_campaign(campaign, limit=None):
        kwargs, keys = {}, []
        while True:
            page = ddb.query(TableName=table, IndexName="by_campaign", KeyConditionExpression="gsi1pk = :g",
                             ExpressionAttributeValues={":g": {"S": campaign}}, **({"Limit": limit} if limit else {}),
                             **kwargs)
            keys += [(i["gsi1sk"]["S"], i["pk"]["S"], i["sk"]["S"]) for i in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return keys
            kwargs = {"ExclusiveStartKey": page["LastEvaluatedKey"]}

    def scanned(campaign):
        items = ddb.scan(TableName=table, FilterExpression="gsi1pk = :g",
                         ExpressionAttributeValues={":g": {"S": campaign}})["Items"]
        return sorted((i["gsi1sk"]["S"], i["pk"]["S"], i["sk"]["S"]) for i in items)

    by_campaign("q#camp1")  # the map exists from here on: every later write must keep it right
    for i in range(12):
        put(f"q#s{i % 4}", f"item#{i:02d}", campaign=f"q#camp{i % 3}", order=f"{i:02d}")
    ddb.update_item(TableName=table, Key={"pk": {"S": "q#s0"}, "sk": {"S": "item#00"}},
                    UpdateExpression="SET gsi1pk = :c", ExpressionAttributeValues={":c": {"S": "q#camp2"}})
    ddb.update_item(TableName=table, Key={"pk": {"S": "q#s1"}, "sk": {"S": "item#01"}},
                    UpdateExpression="REMOVE gsi1pk")
    ddb.delete_item(TableName=table, Key={"pk": {"S": "q#s2"}, "sk": {"S": "item#02"}})
    ddb.batch_write_item(RequestItems={table: [
        {"PutRequest": {"Item": {"pk": {"S": "q#s9"}, "sk": {"S": "b"}, "gsi1pk": {"S": "q#camp1"},
                                 "gsi1sk": {"S": "99"}}}},
        {"DeleteRequest": {"Key": {"pk": {"S": "q#s3"}, "sk": {"S": "item#03"}}}}]})
    with pytest.raises(ClientError, match="TransactionCanceled"):
        ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": table, "Key": {"pk": {"S": "q#s0"}, "sk": {"S": "item#04"}},
                        "UpdateExpression": "SET gsi1pk = :c", "ExpressionAttributeValues": {":c": {"S": "q#camp0"}}}},
            {"ConditionCheck": {"TableName": table, "Key": {"pk": {"S": "q#none"}, "sk": {"S": "x"}},
                                "ConditionExpression": "attribute_exists(pk)"}}])

    for campaign in ("q#camp0", "q#camp1", "q#camp2", "q#nothing"):
        assert by_campaign(campaign) == scanned(campaign)
        assert by_campaign(campaign, limit=2) == scanned(campaign)
    assert ("01", "q#s1", "item#01") not in by_campaign("q#camp1")
    partition = ddb.query(TableName=table, KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
                          ExpressionAttributeValues={":p": {"S": "q#s0"}, ":s": {"S": "item#"}})["Items"]
    assert [i["sk"]["S"] for i in partition] == ["item#00", "item#04", "item#08"]


def test_finished_executions_and_their_threads_are_forgotten(stack):
    """A long-running stack stays flat: ended executions (whatever their status) and moto's finished worker
    threads are dropped, once the release rule has seen them."""
    import time

    from moto.stepfunctions.parser.models import stepfunctions_parser_backends
    from moto.stepfunctions.parser.utils import TMP_THREADS

    sfn = stack.client("stepfunctions")
    arns = [sfn.start_execution(stateMachineArn=stack.state_machines[machine], input=json.dumps({"run_id": "nope"}),
                                name=f"engine-{machine}-{time.time_ns()}")["executionArn"]
            for machine in ("ChatTurnStateMachine", "GenerateExamplesStateMachine")]
    wait_until(lambda: not any(sfn.describe_execution(executionArn=a)["status"] == "RUNNING" for a in arns), 60,
               "the executions to end")
    stack.watcher.poll()  # the rule sees the ended executions before they may be forgotten
    finished_threads = [thread for thread in list(TMP_THREADS) if not thread.is_alive()]
    assert finished_threads, "moto records its worker threads in TMP_THREADS"

    stack.watcher.forget_finished(older_than_s=0)

    backend = stepfunctions_parser_backends["123456789012"]["us-east-1"]
    kept = {e.execution_arn for m in backend.state_machines for e in m.executions}
    assert not kept & set(arns)
    remaining = {id(thread) for thread in list(TMP_THREADS)}
    assert not any(id(thread) in remaining for thread in finished_threads)
