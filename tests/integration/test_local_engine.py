"""The local engine's shortcuts change nothing a client sees: DynamoDB answers written directly are the ones
moto's own serialiser writes."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError


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
