"""What every handler builds once per container: the store, clients, the writer (settings: config.py).

Built lazily and cached, so importing a handler stays cheap (cold starts) and
tests can reset it with :func:`reset`.
"""

from __future__ import annotations

import functools
import sys

import boto3

from outreach import config
from outreach.config import Settings, settings
from outreach.dal.dynamodb import RETRY_CONFIG, DynamoDBStore


def _endpoint(s: Settings) -> dict:
    return {"endpoint_url": s.aws_endpoint_url} if s.aws_endpoint_url else {}


@functools.lru_cache(maxsize=8)
def _store(table_name: str, endpoint: str) -> DynamoDBStore:
    kw = {"endpoint_url": endpoint} if endpoint else {}
    return DynamoDBStore(table_name, resource=boto3.resource("dynamodb", config=RETRY_CONFIG, **kw))


def store() -> DynamoDBStore:
    s = settings()
    return _store(s.table_name, s.aws_endpoint_url)


@functools.lru_cache(maxsize=4)
def _sfn(endpoint: str):
    return boto3.client("stepfunctions", **({"endpoint_url": endpoint} if endpoint else {}))


def stepfunctions():
    return _sfn(settings().aws_endpoint_url)


@functools.lru_cache(maxsize=8)
def _client(service: str, endpoint: str):
    return boto3.client(service, **({"endpoint_url": endpoint} if endpoint else {}))


def sqs():
    return _client("sqs", settings().aws_endpoint_url)


def eventbridge():
    return _client("events", settings().aws_endpoint_url)


@functools.lru_cache(maxsize=8)
def _writer(s: Settings):
    from outreach.llm import writer_for

    return writer_for(s)


def writer():
    return _writer(settings())


def reset() -> None:
    """Forget everything built: settings, clients, the writer, and Powertools' cached secrets."""
    from aws_lambda_powertools.utilities.parameters import clear_caches

    config.reset()
    for cached in (_store, _sfn, _client, _writer):
        cached.cache_clear()
    clear_caches()
    idempotency = sys.modules.get("outreach.logic.idempotency")  # loaded by the first keyed dispatch only
    if idempotency is not None:
        idempotency._persistence.cache_clear()


# Every handler imports this module: on AWS a bad environment fails the cold start here, naming the variable.
settings()
