"""Step Functions' Lambda tasks reach their function in-process, through moto's own Lambda backend.

moto's Step Functions interpreter calls Lambda's Invoke through boto3: for every task of every lead the
client signs an HTTP request, moto rebuilds it as a werkzeug request, answers it as HTTP, and botocore parses
that answer again (profiled: about 2 ms of a lead's ~27 ms, none of it Lambda's semantics).

Here a task whose parameters are only FunctionName (a function ARN, as the templates' DefinitionSubstitutions
give it) and Payload goes to moto's Lambda backend directly: the same function lookup, the same
``LambdaFunction.invoke`` (the local stack's handler, its limits and errors), moto's 6 MB answer check, and
the answer the interpreter would have read from boto3 (StatusCode 200, FunctionError when the handler failed,
the Payload parsed as the interpreter parses it). Any other parameter (Qualifier, InvocationType, LogType,
ClientContext), a function name that is not an ARN, or an unknown function keeps the normal path, with its
errors. tests/integration/test_local_engine.py runs the same tasks both ways and compares their results.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

_ARN = re.compile(r"^arn:aws[\w-]*:lambda:([\w-]+):(\d{12}):function:[\w-]+$")
_SHORTCUT_PARAMETERS = {"FunctionName", "Payload"}
MOTO_PAYLOAD_LIMIT = 6_000_000  # moto's LambdaResponses.invoke: sys.getsizeof of the answer
TOO_LARGE = {"errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
             "errorType": "Function.ResponseSizeTooLarge"}


def _parsed_payload(payload: bytes) -> Any:
    """As moto's interpreter reads a Payload stream (lambda_eval_utils._from_payload)."""
    try:
        return json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return payload.decode("utf-8", errors="replace")


def install() -> None:
    from moto.awslambda.models import lambda_backends
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    if hasattr(lambda_eval_utils._invoke_lambda_function, "moto_original"):
        return
    original = lambda_eval_utils._invoke_lambda_function

    def invoke_in_process(parameters: dict, region: str, state_credentials):
        name = parameters.get("FunctionName")
        arn = _ARN.match(name) if isinstance(name, str) and set(parameters) <= _SHORTCUT_PARAMETERS else None
        if arn is None:
            return original(parameters, region, state_credentials)
        backend = lambda_backends[arn.group(2)][arn.group(1)]
        try:
            function = backend.get_function(name, None)
        except Exception:  # noqa: BLE001 - moto's own path answers with its error
            return original(parameters, region, state_credentials)
        headers: dict[str, str] = {}
        payload = function.invoke(parameters.get("Payload") or b"", {"x-amz-invocation-type": "RequestResponse"},
                                  headers)
        if sys.getsizeof(payload) > MOTO_PAYLOAD_LIMIT:
            headers["x-amz-function-error"] = "Unhandled"
            payload = json.dumps(TOO_LARGE).encode("utf-8")
        answer: dict[str, Any] = {"StatusCode": 200}
        if "x-amz-function-error" in headers:
            answer["FunctionError"] = headers["x-amz-function-error"]
        answer["Payload"] = _parsed_payload(payload if isinstance(payload, bytes) else payload.encode("utf-8"))
        return answer

    invoke_in_process.moto_original = original  # for the test that compares both paths
    lambda_eval_utils._invoke_lambda_function = invoke_in_process
