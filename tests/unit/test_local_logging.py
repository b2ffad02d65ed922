"""The local stack runs every function's invokes on threads of one process: each invoke's log lines carry its
own function and request (on AWS each container logs only its own)."""

import io
import json
import logging
import threading

from aws_lambda_powertools import Logger

from local.concurrency import forget_request, make_resolver_thread_safe
from local.stack import LambdaContext


def test_an_invoke_logs_its_own_function_while_another_function_runs_beside_it():
    make_resolver_thread_safe()  # what the local stack does at start-up
    buffer = io.StringIO()
    logger = Logger(service="outreach-log-threads", level="INFO", logger_handler=logging.StreamHandler(buffer))
    logger.append_keys(deployment="local")  # at import, before any invoke: every invoke's lines carry it
    a_entered, b_done = threading.Event(), threading.Event()

    @logger.inject_lambda_context
    def handler_a(event, context):
        a_entered.set()
        b_done.wait(30)  # B's whole invoke (its own Lambda context included) runs meanwhile
        logger.info("from a")

    @logger.inject_lambda_context
    def handler_b(event, context):
        logger.info("from b")

    def invoke(handler, name: str, request_id: str):
        try:
            handler({}, LambdaContext(name, f"arn:aws:lambda:us-east-1:123456789012:function:{name}", 128, 30,
                                      request_id))
        finally:
            forget_request()

    first = threading.Thread(target=invoke, args=(handler_a, "FunctionA", "req-a"))
    first.start()
    assert a_entered.wait(30)
    second = threading.Thread(target=invoke, args=(handler_b, "FunctionB", "req-b"))
    second.start()
    second.join(30)
    b_done.set()
    first.join(30)

    lines = {line["message"]: line for line in map(json.loads, buffer.getvalue().splitlines())}
    assert (lines["from a"]["function_name"], lines["from a"]["function_request_id"]) == ("FunctionA", "req-a")
    assert (lines["from b"]["function_name"], lines["from b"]["function_request_id"]) == ("FunctionB", "req-b")
    assert lines["from a"]["deployment"] == lines["from b"]["deployment"] == "local"
