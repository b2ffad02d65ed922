"""The local engine's shortcuts change nothing a client sees: DynamoDB answers written directly are the ones
moto's own serialiser writes, and item calls answered in-process are those of the whole HTTP path."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.waiting import wait_until


def test_item_answers_are_those_of_motos_serialiser(stack, monkeypatch):
    from moto.dynamodb.responses import DynamoHandler

    from local import dynamodb_in_process
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
    dynamodb_in_process.uninstall_from(ddb)  # the HTTP path, where moto serialises answers
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


def _item_calls(client, table: str, prefix: str) -> list:
    """Every item operation the store uses (and the errors it relies on), on keys under ``prefix``: each call's
    answer, or its error's code and response."""
    answers: list = []

    def call(operation: str, **kwargs):
        try:
            answers.append((operation, getattr(client, operation)(**kwargs)))
        except ClientError as error:
            answers.append((operation, "error", error.response["Error"]["Code"], str(error), error.response))

    def key(pk, sk="a"):
        return {"pk": {"S": f"{prefix}#{pk}"}, "sk": {"S": sk}}

    item = {**key("1"), "n": {"N": "12.50"}, "m": {"M": {"x": {"L": [{"S": "é😀"}, {"N": "1"}, {"NULL": True}]}}},
            "flag": {"BOOL": False}, "ss": {"SS": ["p", "q"]}, "ns": {"NS": ["1", "2.5"]},
            "gsi1pk": {"S": f"{prefix}#camp"}, "gsi1sk": {"S": "1"}, "status": {"S": "pending"}}
    call("put_item", TableName=table, Item=item, ReturnValues="ALL_OLD")
    call("put_item", TableName=table, Item=item, ReturnValues="ALL_OLD")
    call("put_item", TableName=table, Item={**item, "sk": {"S": "b"}, "gsi1sk": {"S": "2"}})
    call("put_item", TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)",
         ReturnValuesOnConditionCheckFailure="ALL_OLD")
    call("put_item", TableName=table, Item={**key("big"), "text": {"S": "x" * 410_000}})  # past 400 KB
    call("get_item", TableName=table, Key=key("1"), ConsistentRead=True)
    call("get_item", TableName=table, Key=key("1"), ProjectionExpression="#n, m.x[0], ss",
         ExpressionAttributeNames={"#n": "n"})
    call("get_item", TableName=table, Key=key("none"))
    call("get_item", TableName=table, Key={"pk": {"S": f"{prefix}#1"}})  # half a key
    call("get_item", TableName="no-such-table", Key=key("1"))
    call("update_item", TableName=table, Key=key("1"), UpdateExpression="SET n = n + :one, l = :l REMOVE flag",
         ConditionExpression="#s = :pending", ExpressionAttributeNames={"#s": "status"},
         ExpressionAttributeValues={":one": {"N": "1"}, ":l": {"L": []}, ":pending": {"S": "pending"}},
         ReturnValues="ALL_NEW")
    call("update_item", TableName=table, Key=key("1"), UpdateExpression="SET #s = :done",
         ConditionExpression="#s = :other", ExpressionAttributeNames={"#s": "status"},
         ExpressionAttributeValues={":done": {"S": "done"}, ":other": {"S": "other"}},
         ReturnValuesOnConditionCheckFailure="ALL_OLD")
    call("update_item", TableName=table, Key=key("1"), UpdateExpression="SET n = :v",
         ExpressionAttributeValues={":v": {"N": "1"}, ":unused": {"N": "2"}})
    call("update_item", TableName=table, Key=key("1"), ReturnValues="UPDATED_NEW",
         UpdateExpression="SET l = list_append(l, :more), m.x[0] = :s, c = if_not_exists(c, :zero) + :one "
                          "ADD ns :ns DELETE ss :del REMOVE m.x[2]",
         ExpressionAttributeValues={":more": {"L": [{"S": "z"}]}, ":s": {"S": "first"}, ":zero": {"N": "0"},
                                    ":one": {"N": "1"}, ":ns": {"NS": ["7"]}, ":del": {"SS": ["p"]}})
    call("update_item", TableName=table, Key=key("1"), UpdateExpression="SET a = :v SET b = :v",
         ExpressionAttributeValues={":v": {"N": "1"}})
    call("update_item", TableName=table, Key=key("1"), UpdateExpression="REMOVE a SET b = :v, c = :v REMOVE d ADD e :v",
         ExpressionAttributeValues={":v": {"N": "1"}})
    call("update_item", TableName=table, Key=key("1"), UpdateExpression="SET a = :v, a = :v",
         ExpressionAttributeValues={":v": {"N": "1"}})
    call("update_item", TableName=table, Key=key("1"), UpdateExpression="SET missing.deep = :v",
         ExpressionAttributeValues={":v": {"N": "1"}})
    call("update_item", TableName=table, Key=key("1"), UpdateExpression="SET = broken")
    call("update_item", TableName=table, Key=key("1"), UpdateExpression="SET text = :t",
         ExpressionAttributeValues={":t": {"S": "x" * 410_000}})
    call("update_item", TableName=table, Key=key("1"), UpdateExpression="SET pk = :p",
         ExpressionAttributeValues={":p": {"S": "other"}})
    # the workspace's LLM leases: a map that a condition on its size caps
    lease_key, cap = key("ws", "LLM_LEASES"), {":cap": {"N": "2"}, ":exp": {"N": "99"}}
    call("update_item", TableName=table, Key=lease_key, UpdateExpression="SET leases.#l = :exp",
         ConditionExpression="attribute_exists(leases) AND size(leases) < :cap", ExpressionAttributeNames={"#l": "r1"},
         ExpressionAttributeValues=cap)
    call("put_item", TableName=table, Item={**lease_key, "leases": {"M": {}}},
         ConditionExpression="attribute_not_exists(leases)")
    for lease in ("r1", "r2", "r3"):
        call("update_item", TableName=table, Key=lease_key, UpdateExpression="SET leases.#l = :exp",
             ConditionExpression="attribute_exists(leases) AND size(leases) < :cap",
             ExpressionAttributeNames={"#l": lease}, ExpressionAttributeValues=cap, ReturnValues="UPDATED_NEW")
    call("update_item", TableName=table, Key=lease_key, UpdateExpression="REMOVE leases.#l",
         ExpressionAttributeNames={"#l": "r1"}, ReturnValues="ALL_OLD")
    call("query", TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": key("1")["pk"]},
         Limit=1, ConsistentRead=True)
    call("query", TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": key("1")["pk"]},
         ExclusiveStartKey=key("1"), ScanIndexForward=False, ProjectionExpression="sk")
    call("query", TableName=table, KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
         ExpressionAttributeValues={":p": key("1")["pk"], ":s": {"S": "b"}}, Select="COUNT")
    call("query", TableName=table, IndexName="by_campaign", KeyConditionExpression="gsi1pk = :g",
         ExpressionAttributeValues={":g": {"S": f"{prefix}#camp"}}, ScanIndexForward=False)
    call("query", TableName=table, KeyConditionExpression="sk = :s", ExpressionAttributeValues={":s": {"S": "a"}})
    call("scan", TableName=table, FilterExpression="begins_with(pk, :p)", ExpressionAttributeValues={
        ":p": {"S": f"{prefix}#"}})
    answers[-1][1].pop("ScannedCount")  # the whole table's count: the other copy's keys are in it too
    call("batch_get_item", RequestItems={table: {"Keys": [key("1"), key("none"), key("1", "b")],
                                                 "ConsistentRead": True, "ProjectionExpression": "pk, sk, n"}})
    call("batch_write_item", RequestItems={table: [{"PutRequest": {"Item": {**key("2"), "v": {"N": "1"}}}},
                                                   {"DeleteRequest": {"Key": key("1", "b")}}]})
    call("transact_get_items", TransactItems=[{"Get": {"TableName": table, "Key": key("1")}},
                                              {"Get": {"TableName": table, "Key": key("none")}}])
    call("transact_write_items", TransactItems=[
        {"Update": {"TableName": table, "Key": key("2"), "UpdateExpression": "SET v = v + :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        {"ConditionCheck": {"TableName": table, "Key": key("1"), "ConditionExpression": "attribute_exists(pk)"}},
        {"Put": {"TableName": table, "Item": {**key("3"), "v": {"S": "new"}}}}])
    call("transact_write_items", TransactItems=[
        {"Update": {"TableName": table, "Key": key("2"), "UpdateExpression": "SET v = :zero",
                    "ExpressionAttributeValues": {":zero": {"N": "0"}}}},
        {"Delete": {"TableName": table, "Key": key("1"), "ConditionExpression": "attribute_not_exists(pk)",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}])
    call("delete_item", TableName=table, Key=key("3"), ConditionExpression="v = :old",
         ExpressionAttributeValues={":old": {"S": "old"}}, ReturnValuesOnConditionCheckFailure="ALL_OLD")
    call("delete_item", TableName=table, Key=key("3"), ReturnValues="ALL_OLD")
    call("get_item", TableName=table, Key=key("2"))
    return answers


def _same_shape(answer, prefix: str):
    """An answer with ``prefix`` spelled as "P" and what differs per request (request ids, dates, the checksum
    of the HTTP body an in-process answer does not have) left out."""
    text = json.dumps(answer, default=repr, ensure_ascii=False).replace(f"{prefix}#", "P#")
    value = json.loads(text)

    def scrub(node):
        if isinstance(node, dict):
            metadata = node.get("ResponseMetadata")
            if isinstance(metadata, dict):
                headers = metadata.get("HTTPHeaders", {})
                node["ResponseMetadata"] = {**metadata, "RequestId": "-", "HTTPHeaders": sorted(
                    set(headers) - {"x-amz-crc32", "content-length"})}
            for child in node.values():
                scrub(child)
        elif isinstance(node, list):
            for child in node:
                scrub(child)
        return node

    return scrub(value)


def test_item_calls_answered_in_process_are_those_of_the_http_path(stack):
    """Answered at botocore's before-call from moto's handler, or through signing, HTTP, moto's request parsing
    and botocore's response parsing: the same answers and the same errors, for every item operation the store
    uses, on two copies of the same keys."""
    from local import dynamodb_in_process

    fast, normal = stack.client("dynamodb"), stack.client("dynamodb")
    dynamodb_in_process.uninstall_from(normal)
    before = sum(dynamodb_in_process.ANSWERED.values())
    fast_answers = _item_calls(fast, stack.table_name, "inproc")
    answered = sum(dynamodb_in_process.ANSWERED.values()) - before
    normal_answers = _item_calls(normal, stack.table_name, "http")
    assert sum(dynamodb_in_process.ANSWERED.values()) - before == answered, "the normal client went in-process"
    assert answered == len(fast_answers), "every call of the in-process client was answered in-process"

    assert len(fast_answers) == len(normal_answers)
    for fast_answer, normal_answer in zip(fast_answers, normal_answers, strict=True):
        assert _same_shape(fast_answer, "inproc") == _same_shape(normal_answer, "http")
    errors = {a[2] for a in fast_answers if a[1] == "error"}
    assert {"ConditionalCheckFailedException", "ValidationException", "ResourceNotFoundException",
            "TransactionCanceledException"} <= errors
    # An answer is the caller's own: changing it in place (as boto3's resource does) changes nothing stored.
    for operation, kwargs in (("get_item", {"Key": {"pk": {"S": "inproc#2"}, "sk": {"S": "a"}}}),
                              ("query", {"KeyConditionExpression": "pk = :p",
                                         "ExpressionAttributeValues": {":p": {"S": "inproc#2"}}})):
        answer = getattr(fast, operation)(TableName=stack.table_name, **kwargs)
        for item in answer.get("Items") or [answer["Item"]]:
            item["v"]["N"] = "-1"
        again = getattr(fast, operation)(TableName=stack.table_name, **kwargs)
        assert [i["v"]["N"] for i in again.get("Items") or [again["Item"]]] == ["2"]
    # Python values through boto3's resource (as the store calls it) come back the same way too.
    table = stack.boto.resource("dynamodb").Table(stack.table_name)
    assert table.get_item(Key={"pk": "inproc#2", "sk": "a"})["Item"] == {"pk": "inproc#2", "sk": "a", "v": 2}


def _restore_motos_value_code(monkeypatch) -> None:
    from moto.dynamodb import responses
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    for owner, name in ((DynamoType, "size"), (DynamoType, "__deepcopy__"), (Item, "__deepcopy__"),
                        (DynamoType, "to_regular_json"), (responses, "dynamo_to_dict"), (DynamoType, "__init__"),
                        (Item, "__init__")):
        monkeypatch.setattr(owner, name, getattr(owner, name).moto_original)


# Values of every attribute type, nested, with text outside ASCII, as moto holds them.
_VALUES = {
    "s": {"S": "plain"}, "u": {"S": "Zoë 😀 東京"}, "empty": {"S": ""}, "n": {"N": "-12.50"}, "big": {"N": "1e30"},
    "b": {"B": "aGVsbG8="}, "t": {"BOOL": True}, "f": {"BOOL": False}, "null": {"NULL": True},
    "ss": {"SS": ["a", "ü"]}, "ns": {"NS": ["1", "2.5"]}, "bs": {"BS": ["aGk="]},
    "l": {"L": [{"S": "x"}, {"N": "1"}, {"M": {"k": {"L": [{"NULL": True}, {"SS": ["q"]}]}}}]},
    "m": {"M": {"leases": {"M": {f"run:{i}": {"N": str(1_800_000_000 + i)} for i in range(40)}},
                "roster": {"L": [{"M": {"full_name": {"S": f"Lé {i}"}, "company": {"NULL": True}}} for i in range(30)]},
                "ключ": {"S": "значение"}}},
}


def test_item_value_shortcuts_match_motos_own(monkeypatch):
    """Sizes summed without re-wrapping, items built with one size check and their names interned, items and
    values copied and converted to JSON directly, answers made plain in one pass (local/moto_speedups.py): the
    same sizes, copies, JSON, answers and 400 KB refusals as moto's own code, for every attribute type; a copy
    shares no container with its original."""
    import copy

    from moto.dynamodb import responses
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    from local import moto_speedups

    moto_speedups.install()

    from moto.dynamodb.exceptions import ItemSizeTooLarge

    def refused(attrs) -> bool:
        try:
            Item(DynamoType({"S": "pk"}), DynamoType({"S": "sk"}), attrs)
        except ItemSizeTooLarge:
            return True
        return False

    def observe():
        item = Item(DynamoType({"S": "pk"}), DynamoType({"S": "sk"}), copy.deepcopy(_VALUES))
        values = {name: DynamoType(value) for name, value in _VALUES.items()}
        copied = copy.deepcopy(item)
        copied.attrs["m"].value["leases"].value["run:0"].value = "0"  # a copy's change stays in the copy
        copied.attrs["l"].value.append(DynamoType({"S": "more"}))
        return {
            "sizes": {name: value.size() for name, value in values.items()},
            "item size": item.size(),
            "copy": copy.deepcopy(item).to_json(),
            "original after the copy changed": item.to_json(),
            "value copies": {name: copy.deepcopy(value).to_json() for name, value in values.items()},
            "regular json": {name: value.to_regular_json() for name, value in values.items()},
            "plain answer": responses.dynamo_to_dict({"Items": [item.attrs], "Count": 1, "Value": values["m"]}),
            "400 KB": [refused({f"a{i}": {"S": "é" * 50_000} for i in range(n)}) for n in (4, 5)]
            + [refused({"a": {"S": "x" * 404_990}, "b": {"N": "12345678901"}}), refused({"a": {"S": "x" * 404_000}})],
        }

    quick = observe()
    assert quick["400 KB"] == [False, True, True, False]
    # Attribute names as parsed from each request are separate strings: each kept once across items.
    built = [Item(DynamoType({"S": "pk"}), None, json.loads('{"state": {"M": {"leases": {"N": "1"}}}}'))
             for _ in range(2)]
    (first,), (second,) = (list(item.attrs) for item in built)
    assert first is second and list(built[0].attrs[first].value)[0] is list(built[1].attrs[second].value)[0]
    _restore_motos_value_code(monkeypatch)
    assert quick == observe()


def test_moto_shortcuts_give_motos_answers(stack, monkeypatch):
    """Update expressions parsed and condition expressions lexed once per string, validated in walks that read
    each check's node types once and count sections once per node, on trees copied node by node and checked by
    plain inheritance (local/moto_speedups.py): the same answers and errors as moto's own code, for every item
    operation."""
    import abc

    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser
    from moto.dynamodb.parsing.validators import ActionCountValidator

    from local.moto_speedups import tree_node_classes

    client = stack.client("dynamodb")
    quick = _item_calls(client, stack.table_name, "quick")
    monkeypatch.setattr(DepthFirstTraverser, "traverse", DepthFirstTraverser.traverse.moto_original)
    monkeypatch.setattr(UpdateExpressionParser, "make", UpdateExpressionParser.make.moto_original)
    monkeypatch.setattr(validators, "deepcopy", validators.deepcopy.moto_original)
    monkeypatch.delattr(Node, "__deepcopy__")
    monkeypatch.setattr(ConditionExpressionParser, "_lex_condition_expression",
                        ConditionExpressionParser._lex_condition_expression.moto_original)
    monkeypatch.setattr(ActionCountValidator, "verify_action_counts",
                        ActionCountValidator.verify_action_counts.moto_original)
    _restore_motos_value_code(monkeypatch)
    classes = tree_node_classes()
    fast_meta = type(Node)
    assert fast_meta is not abc.ABCMeta
    for cls in classes:
        cls.__class__ = abc.ABCMeta
    try:
        assert UpdateExpressionParser.make("SET a = :b") is not UpdateExpressionParser.make("SET a = :b")
        as_moto = _item_calls(client, stack.table_name, "moto")
    finally:
        for cls in classes:
            cls.__class__ = fast_meta
    for quick_answer, moto_answer in zip(quick, as_moto, strict=True):
        assert _same_shape(quick_answer, "quick") == _same_shape(moto_answer, "moto")


def test_each_definition_is_parsed_once_and_each_execution_gets_its_own_components(stack, monkeypatch):
    """Executions share their state machine's ANTLR parse tree (local/moto_speedups.py) but build their own
    evaluation components from it, which hold per-execution state: the same history as moto's own parse."""
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    sfn = stack.client("stepfunctions")
    machine = stack.state_machines["ChatTurnStateMachine"]
    definition = sfn.describe_state_machine(stateMachineArn=machine)["definition"]

    def history_of_a_run() -> list[tuple[str, str]]:
        arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"run_id": "nope"}),
                                  name=f"parse-{uuid.uuid4().hex}")["executionArn"]
        wait_until(lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING", 60, "the execution")
        events = sfn.get_execution_history(executionArn=arn)["events"]
        return [(e["type"], json.dumps({k: v for k, v in e.items() if k.endswith("EventDetails")}, default=str))
                for e in events]

    quick = ExecutionWorker._get_evaluation_entrypoint
    worker = ExecutionWorker.__new__(ExecutionWorker)
    worker._evaluation_details = type("D", (), {"state_machine_details": type("S", (), {"definition": definition})})
    first, second = quick(worker), quick(worker)
    assert first is not second  # components are never shared between executions
    assert quick.tree_of.cache_info().currsize >= 1
    shared = [history_of_a_run(), history_of_a_run()]
    monkeypatch.setattr(ExecutionWorker, "_get_evaluation_entrypoint", quick.moto_original)
    assert shared == [history_of_a_run(), history_of_a_run()]


def test_lambda_tasks_answered_in_process_are_those_of_the_http_path(stack, monkeypatch):
    """A state machine's Lambda task reaches its function through moto's Lambda backend directly
    (local/lambda_in_process.py) or through boto3 and moto's HTTP path: the same history, for a handler that
    answers and for one that fails."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    sfn = stack.client("stepfunctions")
    machine = stack.state_machines["ChatTurnStateMachine"]
    quick = lambda_eval_utils._invoke_lambda_function
    calls: list[str] = []
    monkeypatch.setattr(lambda_eval_utils, "_invoke_lambda_function",
                        lambda *a, **k: calls.append("quick") or quick(*a, **k))

    def fail_marked_turns(logical_id, event):
        if logical_id == "ChatTurnFunction" and event.get("run_id") == "fail-me":
            raise RuntimeError("the turn failed")

    monkeypatch.setattr(stack, "before_invoke", fail_marked_turns)

    def histories() -> list[list[tuple[str, str]]]:
        found = []
        for run_id in ("nope", "fail-me"):  # the handler answers; the handler fails
            arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"run_id": run_id}),
                                      name=f"invoke-{uuid.uuid4().hex}")["executionArn"]
            wait_until(lambda arn=arn: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING", 60,
                       "the execution to end")
            found.append([(e["type"], json.dumps({k: v for k, v in e.items() if k.endswith("EventDetails")},
                                                 default=str, sort_keys=True))
                          for e in sfn.get_execution_history(executionArn=arn)["events"]])
        return found

    in_process = histories()
    assert calls and any(t == "TaskFailed" and "the turn failed" in d for t, d in in_process[1])
    monkeypatch.setattr(lambda_eval_utils, "_invoke_lambda_function", quick.moto_original)
    assert in_process == histories()


def test_executions_a_request_starts_begin_once_it_is_answered(stack):
    """The HTTP front holds the executions a request starts until its answer is written (local/execution_starts.py):
    StartExecution answers at once and the execution is RUNNING, but no state runs yet; when the block ends (the
    answer written), it runs to its end."""
    from local.execution_starts import held_until_answered

    sfn = stack.client("stepfunctions")
    machine = stack.state_machines["ChatTurnStateMachine"]
    with held_until_answered():
        arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"run_id": "nope"}),
                                  name=f"held-{uuid.uuid4().hex}")["executionArn"]
        assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
        assert sfn.get_execution_history(executionArn=arn)["events"] == []
    wait_until(lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING", 60, "the execution to end")
    assert sfn.get_execution_history(executionArn=arn)["events"][0]["type"] == "ExecutionStarted"


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


def test_an_answered_request_is_not_kept_by_the_idle_lambda_thread(stack):
    """Handlers run on a pool of reused threads, and the API resolver keeps its request per thread
    (local/concurrency.py): an idle thread must not keep the last request it handled (its body may be 1 MiB),
    or a long-running stack holds one request per thread its busiest moment started."""
    import gc
    from pathlib import Path

    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

    event = json.loads((Path(__file__).parents[2] / "events" / "api_list_sessions.json").read_text())
    event["headers"]["authorization"] = "Bearer key-a"  # this stack's key for ws_a
    event = json.dumps(event).encode()
    lam = stack.client("lambda")
    for _ in range(5):
        answer = lam.invoke(FunctionName="ApiFunction", Payload=event)
        assert json.loads(answer["Payload"].read())["statusCode"] == 200
    gc.collect()
    kept = [o for o in gc.get_objects() if isinstance(o, APIGatewayProxyEventV2)]
    assert kept == []


def _fill(ddb, table: str, items: list[dict]) -> None:
    for start in range(0, len(items), 25):
        ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": i}} for i in items[start:start + 25]]})


def test_a_query_page_reads_its_page_not_its_whole_partition(stack, monkeypatch):
    """A campaign with thousands of sessions lists its first page, or its tenth, as fast as one with ten:
    moto is handed the page's items (and the one after it), not every item of the partition or index key."""
    from moto.dynamodb.models.table import Table

    ddb, table = stack.client("dynamodb"), stack.table_name
    _fill(ddb, table, [{"pk": {"S": "w#big"}, "sk": {"S": f"e#{i:04d}"}, "gsi1pk": {"S": "w#camp"},
                        "gsi1sk": {"S": f"{i // 2:04d}"}} for i in range(1200)])
    handed: list[int] = []
    all_items = Table.all_items

    def counted(self):
        items = all_items(self)
        handed.append(len(items))
        return items

    monkeypatch.setattr(Table, "all_items", counted)

    def pages(limit, **query):
        keys, start = [], {}
        for _ in range(4):
            page = ddb.query(TableName=table, Limit=limit, **query, **start)
            keys.append([i["sk"]["S"] for i in page["Items"]])
            start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
        return keys

    partition = {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "w#big"}}}
    assert pages(10, **partition)[3] == [f"e#{i:04d}" for i in range(30, 40)]
    assert pages(10, **partition, ScanIndexForward=False)[1] == [f"e#{i:04d}" for i in range(1189, 1179, -1)]
    ranged = {"KeyConditionExpression": "pk = :p AND sk BETWEEN :a AND :b",
              "ExpressionAttributeValues": {":p": {"S": "w#big"}, ":a": {"S": "e#0500"}, ":b": {"S": "e#0600"}}}
    assert pages(5, **ranged, ScanIndexForward=False)[2] == [f"e#{i:04d}" for i in range(590, 585, -1)]
    prefixed = {"KeyConditionExpression": "pk = :p AND begins_with(sk, :s)",
                "ExpressionAttributeValues": {":p": {"S": "w#big"}, ":s": {"S": "e#07"}}}
    assert pages(5, **prefixed)[1] == [f"e#{i:04d}" for i in range(705, 710)]
    campaign = {"IndexName": "by_campaign", "KeyConditionExpression": "gsi1pk = :c",
                "ExpressionAttributeValues": {":c": {"S": "w#camp"}}}
    assert pages(3, **campaign)[3] == ["e#0009", "e#0010", "e#0011"]
    assert pages(3, **campaign, ScanIndexForward=False)[1] == ["e#1196", "e#1195", "e#1194"]
    for i in range(5, 10):  # deleted and moved items leave the pages, and the pages stay pages
        ddb.delete_item(TableName=table, Key={"pk": {"S": "w#big"}, "sk": {"S": f"e#{i:04d}"}})
    ddb.update_item(TableName=table, Key={"pk": {"S": "w#big"}, "sk": {"S": "e#0001"}},
                    UpdateExpression="SET gsi1sk = :s", ExpressionAttributeValues={":s": {"S": "9999"}})
    assert pages(10, **partition)[0] == [f"e#{i:04d}" for i in (0, 1, 2, 3, 4, 10, 11, 12, 13, 14)]
    assert pages(3, **campaign)[:2] == [["e#0000", "e#0002", "e#0003"], ["e#0004", "e#0010", "e#0011"]]
    assert pages(3, **campaign, ScanIndexForward=False)[0] == ["e#0001", "e#1199", "e#1198"]
    assert handed and max(handed) <= 11
    for start in range(0, 1200, 25):  # a partition deleted whole leaves nothing behind
        ddb.batch_write_item(RequestItems={table: [
            {"DeleteRequest": {"Key": {"pk": {"S": "w#big"}, "sk": {"S": f"e#{i:04d}"}}}}
            for i in range(start, start + 25) if not 5 <= i < 10]})
    assert ddb.query(TableName=table, **partition)["Items"] == []
    assert ddb.query(TableName=table, **campaign)["Items"] == []
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.dynamo_type import DynamoType

    from local.stack import ACCOUNT, REGION

    moto_table = dynamodb_backends[ACCOUNT][REGION].get_table(table)
    assert DynamoType({"S": "w#big"}) not in moto_table._outreach_ordered_partitions
    assert '{"S": "w#camp"}' not in moto_table._outreach_index_map.ordered["by_campaign"]


def test_query_pages_are_those_of_moto_reading_the_whole_partition(stack, monkeypatch):
    """Pages cut from the ordered keys (local/dynamodb_queries.py) are the pages moto gives when it reads the
    whole partition or index key: items, counts and LastEvaluatedKey, in both directions, for every key
    condition, with limits, filters and projections, and after writes that add, move and delete items."""
    import random

    from local import dynamodb_queries

    ddb, table = stack.client("dynamodb"), stack.table_name
    rng = random.Random(20261127)
    sks = ["a", "a#1", "a#2", "a#10", "b", "b#", "b#x", "b#xy", "c\u00e9", "c\U0001f600", "d"]

    def item(n: int) -> dict:
        return {"pk": {"S": f"f#p{n % 2}"}, "sk": {"S": f"{rng.choice(sks)}#{n:03d}"}, "n": {"N": str(n % 7)},
                "gsi1pk": {"S": f"f#c{n % 2}"}, "gsi1sk": {"S": rng.choice(sks)}}

    def query_args() -> dict:
        limit = rng.choice([None, 3, 7, 40])
        forward = rng.random() < 0.5
        names, values = {}, {":h": {"S": f"f#{rng.choice('pc')}{rng.randrange(2)}"}}
        index = values[":h"]["S"].startswith("f#c")
        hash_attr, range_attr = ("gsi1pk", "gsi1sk") if index else ("pk", "sk")
        condition = f"{hash_attr} = :h"
        kind = rng.choice(["", "=", "<", "<=", ">", ">=", "between", "begins"])
        low, high = sorted(rng.sample(sks, 2))
        values[":v"] = {"S": low if kind != "begins" else rng.choice(["a", "a#1", "b#", "c", "z", "a#"])}
        if kind == "between":
            values[":w"] = {"S": high}
            condition += f" AND {range_attr} BETWEEN :v AND :w"
        elif kind == "begins":
            condition += f" AND begins_with({range_attr}, :v)"
        elif kind:
            condition += f" AND {range_attr} {kind} :v"
        else:
            del values[":v"]
        args = {"KeyConditionExpression": condition, "ExpressionAttributeValues": values, "ScanIndexForward": forward}
        if index:
            args["IndexName"] = "by_campaign"
        if limit:
            args["Limit"] = limit
        if rng.random() < 0.3:
            args["FilterExpression"] = "#n < :f"
            names["#n"] = "n"
            values[":f"] = {"N": "4"}
        if rng.random() < 0.2:
            args["ProjectionExpression"] = "sk, #n"
            names["#n"] = "n"
        if names:
            args["ExpressionAttributeNames"] = names
        return args

    def walk(args: dict) -> list:
        pages, start = [], {}
        while len(pages) < 200:
            page = ddb.query(TableName=table, **args, **start)
            pages.append({k: page.get(k) for k in ("Items", "Count", "ScannedCount", "LastEvaluatedKey")})
            if "LastEvaluatedKey" not in page:
                return pages
            start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
        raise AssertionError("a query that never ends")

    _fill(ddb, table, [item(n) for n in range(160)])
    whole = dynamodb_queries._window
    compared = 0
    for round_ in range(6):
        for _ in range(25):
            args = query_args()
            windowed = walk(args)
            monkeypatch.setattr(dynamodb_queries, "_window", lambda *a, **k: None)
            assert windowed == walk(args), args
            monkeypatch.setattr(dynamodb_queries, "_window", whole)
            compared += 1
        for n in rng.sample(range(160 + round_ * 20), 20):  # moves between index keys, deletes, new items
            if rng.random() < 0.3:
                keys = ddb.scan(TableName=table, FilterExpression="begins_with(pk, :f)",
                                ExpressionAttributeValues={":f": {"S": "f#"}})["Items"]
                victim = rng.choice(keys)
                ddb.delete_item(TableName=table, Key={"pk": victim["pk"], "sk": victim["sk"]})
            _fill(ddb, table, [item(1000 + round_ * 100 + n)])
        for victim in ddb.scan(TableName=table, FilterExpression="begins_with(pk, :f)", Limit=400,
                               ExpressionAttributeValues={":f": {"S": "f#"}})["Items"][:15]:
            values = {":c": {"S": f"f#c{rng.randrange(2)}"}}
            if rng.random() < 0.8:
                values[":s"] = {"S": rng.choice(sks)}
            ddb.update_item(TableName=table, Key={"pk": victim["pk"], "sk": victim["sk"]},
                            UpdateExpression="SET gsi1pk = :c" + (", gsi1sk = :s" if ":s" in values
                                                                  else " REMOVE gsi1sk"),
                            ExpressionAttributeValues=values)
    assert compared == 150


def test_items_hold_one_copy_of_each_short_value_and_the_shared_values_stay_bounded(stack):
    """A run's lead records repeat the same statuses, counts, model name and expiry: moto kept a copy of each in
    every item. They are shared now (local/moto_speedups.py), within a bounded table."""
    from moto.dynamodb.models import dynamodb_backends

    from local import moto_speedups

    client = stack.client("dynamodb")
    for i in range(50):
        client.put_item(TableName=stack.table_name, Item={
            "pk": {"S": "share#run"}, "sk": {"S": f"LEAD#{i:05d}"}, "status": {"S": "completed"},
            "model": {"S": "gpt-4.1-mini"}, "expires_at": {"N": "1796432429"}, "note": {"S": f"lead {i} " * 3}})
    client.update_item(TableName=stack.table_name, Key={"pk": {"S": "share#run"}, "sk": {"S": "LEAD#00007"}},
                       UpdateExpression="SET #s = :s", ExpressionAttributeNames={"#s": "status"},
                       ExpressionAttributeValues={":s": {"S": "completed"}})
    table = dynamodb_backends["123456789012"]["us-east-1"].get_table(stack.table_name)
    leads = [item for key, partition in table.items.items() if key.value == "share#run" for item in partition.values()]
    assert len(leads) == 50
    for name in ("status", "model", "expires_at"):
        assert len({id(item.attrs[name].value) for item in leads}) == 1, name
    assert len({id(item.attrs["note"].value) for item in leads}) == 50  # longer values are each their own
    assert [item.attrs["status"].value for item in leads] == ["completed"] * 50

    from moto.dynamodb.models.dynamo_type import DynamoType

    for i in range(moto_speedups.SHARED_VALUES_MAX + 10):  # as many distinct short values as moto may build
        DynamoType({"N": str(i)})
    assert 0 < len(moto_speedups.SHARED_VALUES) <= moto_speedups.SHARED_VALUES_MAX
