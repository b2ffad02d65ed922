"""Answer DynamoDB's item operations with one json.dumps instead of moto's model-driven serialiser.

Profiled on a 100-lead run, a third of the local stack's CPU went to moto walking the botocore output
shape of every GetItem/Query/UpdateItem answer (moto.core.serialize), to produce what, for these
operations, is the result's own JSON: items are already AttributeValue dicts of strings, lists and
dicts. This writes that JSON directly for the item operations, with None members left out as the
serialiser leaves them out. Errors, control-plane calls, and any result json cannot write (bytes of a
binary attribute) still go through moto's serialiser. tests/integration/test_local_engine.py checks
that both give the same answer.

Most item calls of the stack no longer reach this (local.dynamodb_in_process answers them before any HTTP
request is made); this serves the calls that still take moto's HTTP path (binary attributes, clients made
before the stack started).
"""

from __future__ import annotations

import json
from typing import Any

ITEM_OPERATIONS = frozenset({
    "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan",
    "BatchGetItem", "BatchWriteItem", "TransactGetItems", "TransactWriteItems",
})
CONTENT_TYPE = "application/x-amz-json-1.0"


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def fast_body(operation: str, result: Any) -> str | None:
    """The answer's body, or None where moto's serialiser must write it."""
    if operation not in ITEM_OPERATIONS or not isinstance(result, dict):
        return None
    try:
        return json.dumps(_without_none(result), separators=(",", ":"))
    except (TypeError, ValueError):
        return None


def install() -> None:
    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoHandler, "_outreach_fast_answers", False):
        return
    serialized = DynamoHandler.serialized

    def serialized_fast(self, action_result):
        body = fast_body(self._get_action(), action_result.result)
        if body is None:
            return serialized(self, action_result)
        headers = {"Content-Type": CONTENT_TYPE}
        headers.update(self.response_headers)
        return 200, headers, body

    serialized_fast.moto_serialized = serialized  # for the test that compares both
    DynamoHandler.serialized = serialized_fast
    DynamoHandler._outreach_fast_answers = True
