"""In-process DynamoDB item calls answered at botocore's ``before-call``, straight from moto's DynamoDB handler.

Every DynamoDB call of the local stack is made in this process, by boto3, and answered by moto. The normal
path (moto's ``before-send`` stub) makes the client sign the request and prepare an HTTP request, moto turn
that back into a werkzeug request, parse its JSON body against the service model, run the action, write the
answer as JSON, and botocore parse that JSON against the output shape again: profiled on a 100-lead run, about
a third of the stack's CPU, none of it DynamoDB's semantics.

Here the item operations skip those round trips. At ``before-call`` botocore has validated the parameters and
serialised them into the request body; moto's own DynamoDB handler then runs the action on that body (the same
action methods, under the same lock, with the same backend: conditions, expressions, the 400 KB item limit,
write-through to SQLite), and its result becomes the parsed answer directly: the output shape's members, with
None left out and fresh containers (callers such as boto3's resource transform the answer in place). Errors
take moto's error answer and botocore's own error parser, so a failed call raises the same ClientError (code,
message, ``Item`` of ALL_OLD, cancellation reasons) as before.

What differs from the normal path: no ``x-amz-crc32`` or ``content-length`` header in ``ResponseMetadata``
(nothing hashes or measures an in-process answer), and the SDK's retry loop is not entered (moto does not
throttle). Control-plane calls, a client with another endpoint, a body with binary attributes (moto's parser
decodes those) and moto's IAM or request-recording modes keep the normal path.
tests/integration/test_local_engine.py runs every item operation the store uses both ways and compares the
answers and the errors.
"""

from __future__ import annotations

import json
import math
import os
import re
import string
import threading
import types
from collections import Counter
from typing import Any

from local.dynamodb_answers import ITEM_OPERATIONS

_REQUEST_ID_LETTERS = string.ascii_letters + string.digits
_URL = re.compile(r"https?://dynamodb\.([^.]+)\.amazonaws\.com/?$")
_HANDLER_ID = "outreach-dynamodb-in-process"
_installed = threading.Lock()
_moto = types.SimpleNamespace()  # moto's pieces, imported at install (moto reads its settings when imported)
_parser = threading.local()  # botocore's JSON parser (for error answers); parsers keep no per-call state
_ATTRIBUTE_VALUE_SHAPES: dict[str, bool] = {}  # DynamoDB output shape name -> made of attribute values only
ANSWERED: Counter[str] = Counter()  # operation -> calls answered here since start-up (tests and the bench read it)


def _fresh(value: Any) -> Any:
    """A copy with new dicts and lists and no None members: what a JSON round trip through the parser gives."""
    if isinstance(value, dict):
        return {k: _fresh(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_fresh(v) for v in value]
    return value


def _made_of_attribute_values(shape) -> bool:
    """An AttributeValue, or maps and lists of them only (an item, a list of items, a key)."""
    known = _ATTRIBUTE_VALUE_SHAPES.get(shape.name)
    if known is None:
        if shape.type_name == "structure":
            known = shape.name == "AttributeValue"
        elif shape.type_name == "map":
            known = _made_of_attribute_values(shape.value)
        elif shape.type_name == "list":
            known = _made_of_attribute_values(shape.member)
        else:
            known = False
        _ATTRIBUTE_VALUE_SHAPES[shape.name] = known
    return known


def _parsed(shape, value: Any, fresh: bool) -> Any:
    """``value`` as botocore's JSON parser gives it for ``shape``: structures keep their shape's members in the
    shape's order, None left out; attribute values (the bulk) are copied, or taken as they are where moto built
    them for this answer (``fresh``: its DynamoResult converts every item into new dicts and lists)."""
    if value is None:
        return None
    if _made_of_attribute_values(shape):
        return value if fresh else _fresh(value)
    type_name = shape.type_name
    if type_name == "structure":
        members = shape.members
        return {name: _parsed(members[name], value[name], fresh) for name in members if value.get(name) is not None}
    if type_name == "map":
        return {key: _parsed(shape.value, item, fresh) for key, item in value.items()}
    if type_name == "list":
        return [_parsed(shape.member, item, fresh) for item in value]
    return value


def _account(request_signer) -> str:
    """The account moto's handler would find for this request (BaseResponse.get_current_account)."""
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    from moto.iam.models import get_account_id_from

    credentials = getattr(request_signer, "_credentials", None)
    return get_account_id_from(getattr(credentials, "access_key", None) or "AKIAEXAMPLE")


def _http_answer(url: str, status: int, headers: dict[str, Any], body: str):
    from botocore.awsrequest import AWSResponse
    from moto.core.botocore_stubber import MockRawResponse

    return AWSResponse(url, status, headers, MockRawResponse(body))


def _error_answer(model, url: str, status: int, headers: dict[str, Any], body: str):
    """A refused call: moto's error answer, parsed as botocore's endpoint parses it."""
    from botocore.endpoint import convert_to_response_dict
    from botocore.parsers import create_parser
    from moto.utilities.aws_headers import gen_amz_crc32

    gen_amz_crc32(body, headers)
    http = _http_answer(url, status, headers, body)
    response = convert_to_response_dict(http, model)
    parser = getattr(_parser, "json", None) or create_parser("json")
    _parser.json = parser
    parsed = parser.parse(response, model.output_shape)
    error_shape = model.service_model.shape_for_error_code(parsed.get("Error", {}).get("Code"))
    if error_shape is not None:  # botocore's Endpoint._add_modeled_error_fields
        parsed.update(parser.parse(response, error_shape))
    parsed.setdefault("ResponseMetadata", {})["RetryAttempts"] = 0
    return http, parsed


def answer(model, params, request_signer=None, **_: Any):
    """The (http, parsed) answer of an in-process DynamoDB item call, or None for botocore's normal path."""
    operation = model.name
    if operation not in ITEM_OPERATIONS or not _moto.stubber.enabled:
        return None
    match = _URL.match(params.get("url", ""))
    body = params.get("body") or b""
    if match is None or not isinstance(body, bytes) or b'"B"' in body or b'"BS"' in body or not _plain_moto():
        return None

    handler = _moto.DynamoHandler()
    handler.region = match.group(1)
    handler.current_account = _account(request_signer)
    handler.headers = {"X-Amz-Target": f"DynamoDB_20120810.{operation}"}
    handler.querystring = {}
    handler.response_headers = {"server": "amazon.com", "date": _moto.http_date(_moto.utcnow())}
    handler.params = handler.body = json.loads(body) if body else {}
    url = params["url"]
    # moto's BaseResponse.call_action, without the HTTP wrapping of a successful answer
    try:
        result = getattr(handler, _moto.camelcase_to_underscores(operation))()
    except _moto.ServiceException as error:
        status, headers, text = handler.serialized(_moto.ActionResult(error))
        ANSWERED[operation] += 1
        return _error_answer(model, url, status, {**headers, **_request_id()}, text)
    except _moto.HTTPException as error:
        headers = {**handler.response_headers, **dict(error.get_headers() or []), "status": str(error.code)}
        ANSWERED[operation] += 1
        return _error_answer(model, url, error.code, {**headers, **_request_id()}, error.description)
    if not isinstance(result, _moto.ActionResult) or not isinstance(result.result, dict):
        return None  # not expected from an item action: moto's whole path answers it instead
    headers = {"Content-Type": "application/x-amz-json-1.0", **handler.response_headers, **_request_id()}
    parsed = _parsed(model.output_shape, result.result, isinstance(result, _moto.DynamoResult))
    ANSWERED[operation] += 1
    parsed["ResponseMetadata"] = {
        "RequestId": headers["x-amzn-requestid"],
        "HTTPStatusCode": 200,
        "HTTPHeaders": {k.lower(): v for k, v in headers.items()},
        "RetryAttempts": 0,
    }
    return _http_answer(url, 200, headers, ""), parsed


def _request_id() -> dict[str, str]:
    # moto's gen_amzn_requestid_long (52 letters and digits from moto's random), in one draw instead of 52
    return {"x-amzn-requestid": "".join(_moto.random.choices(_REQUEST_ID_LETTERS, k=52))}


def _plain_moto() -> bool:
    """moto runs without IAM checks and without recording requests (either needs its full request path)."""
    return math.isinf(_moto.settings.INITIAL_NO_AUTH_ACTION_COUNT) and not _moto.recorder._user_enabled


def install() -> None:
    """Answer item calls in-process for every botocore session made from now on (and boto3's default one)."""
    import boto3
    from botocore import handlers
    from moto import settings
    from moto.core.exceptions import HTTPException, ServiceException
    from moto.core.models import botocore_stubber
    from moto.core.responses import ActionResult
    from moto.core.utils import camelcase_to_underscores, utcnow
    from moto.dynamodb.responses import DynamoHandler, DynamoResult
    from moto.moto_api import recorder
    from moto.moto_api._internal import mock_random
    from werkzeug.http import http_date

    with _installed:
        _moto.__dict__.update(
            settings=settings, HTTPException=HTTPException, ServiceException=ServiceException, stubber=botocore_stubber,
            ActionResult=ActionResult, camelcase_to_underscores=camelcase_to_underscores, utcnow=utcnow,
            DynamoHandler=DynamoHandler, DynamoResult=DynamoResult, recorder=recorder, random=mock_random,
            http_date=http_date,
        )
        entry = ("before-call.dynamodb", answer)
        if entry not in handlers.BUILTIN_HANDLERS:
            handlers.BUILTIN_HANDLERS.append(entry)
        if boto3.DEFAULT_SESSION is not None:
            boto3.DEFAULT_SESSION._session.register("before-call.dynamodb", answer, unique_id=_HANDLER_ID)


def uninstall_from(client) -> None:
    """Let one client take the normal path again (the tests that compare both paths)."""
    client.meta.events.unregister("before-call.dynamodb", answer)
    client.meta.events.unregister("before-call.dynamodb", answer, unique_id=_HANDLER_ID)
