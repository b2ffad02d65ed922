"""Idempotency keys on dispatch: a retried POST with the same ``Idempotency-Key`` gets the first run, not a new one.

Built on Powertools' idempotency utility (``idempotent_function`` over ``DynamoDBPersistenceLayer``), on the
service's own table:

- The record's key is ``pk = IDEMPOTENCY``, ``sk = dispatch#<sha256 of workspace, session, route and key>``: a key
  is scoped to one workspace, one session and one route. Its ``expires_at`` is the table's TTL attribute: 24 h.
- ``payload_validation_jmespath`` hashes the validated body: the same key with another body is refused (422).
- What is stored is ``{"runId"}`` only (``DispatchSerializer``): a run token is a bearer secret, never at rest.
  The ``response_hook`` mints a fresh ``publicAccessToken`` for each replay.
- A dispatch that raises (a 500, and also a 404/409/400 that started nothing) deletes the record: the key is free.
- A concurrent request with the same key finds the record in progress: it waits (bounded) for the first to finish
  and answers its run; past the wait it is a 409 that names the run once the run is recorded.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import boto3
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyInconsistentStateError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.serialization.base import BaseIdempotencySerializer

from outreach.config import Settings
from outreach.dal.base import SessionStore
from outreach.errors import Conflict, Unprocessable
from outreach.logic.auth import issue_run_token

KEY_TTL_S = 24 * 3600
RECORD_PK = "IDEMPOTENCY"
KEY_PREFIX = "dispatch"
# How long a request whose key is in flight waits for the first dispatch (which takes well under a second).
IN_PROGRESS_WAIT_S = 5.0
IN_PROGRESS_POLL_S = 0.05
_REPLAYED = "_replayed"
_build_lock = threading.Lock()


class KeyReused(Unprocessable):
    code = "idempotency_key_reused"

    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was used with another body (within 24 hours). Use a new key for a new request.",
            code="idempotency_key_reused",
        )


class KeyInProgress(Conflict):
    """The first request with this key is still being recorded: retry with the same key in a moment."""

    def __init__(self, run_id: str | None) -> None:
        where = f" (run {run_id})" if run_id else ""
        super().__init__(
            f"A request with this Idempotency-Key is still being processed{where}. Retry with the same key.",
            code="idempotency_key_in_progress",
        )
        self.run_id = run_id

    def body(self) -> dict[str, Any]:
        out = super().body()
        if self.run_id:
            out["runId"] = self.run_id
        return out


class DispatchSerializer(BaseIdempotencySerializer):
    """Store the run id only; the token is minted per answer."""

    def to_dict(self, data: Any) -> dict:
        return {"runId": data["runId"]}

    def from_dict(self, data: dict) -> Any:
        return {"runId": data["runId"]}


def key_fingerprint(workspace_id: str, session_id: str, route: str, key: str) -> str:
    """What a key means: this workspace, this session, this route. Stored on the run it started."""
    scope = json.dumps([workspace_id, session_id, route, key], separators=(",", ":"))
    return hashlib.sha256(scope.encode()).hexdigest()


@functools.lru_cache(maxsize=4)
def _persistence(table_name: str, endpoint: str) -> DynamoDBPersistenceLayer:
    """One layer per container, configured once: Powertools configures a layer on first use and never again,
    and two threads doing that at once (the local front) could read it half-configured."""
    client = boto3.client("dynamodb", **({"endpoint_url": endpoint} if endpoint else {}))
    layer = DynamoDBPersistenceLayer(
        table_name=table_name,
        key_attr="pk",
        sort_key_attr="sk",
        static_pk_value=RECORD_PK,
        expiry_attr="expires_at",
        boto3_client=client,
    )
    with _build_lock:
        layer.configure(_config(), key_prefix=KEY_PREFIX)
    return layer


def _config(lambda_context: Any = None, response_hook: Callable | None = None) -> IdempotencyConfig:
    config = IdempotencyConfig(
        event_key_jmespath="scope",
        payload_validation_jmespath="body",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=KEY_TTL_S,
        hash_function="sha256",
        response_hook=response_hook,
    )
    if lambda_context is not None and hasattr(lambda_context, "get_remaining_time_in_millis"):
        # An in-progress record of a dispatch that crashed expires with its invocation, not after 24 h.
        config.register_lambda_context(lambda_context)
    return config


def dispatch_once(
    store: SessionStore,
    settings: Settings,
    secret: bytes,
    *,
    workspace_id: str,
    session_id: str,
    route: str,
    key: str,
    body: dict[str, Any],
    dispatch: Callable[[str], dict[str, str]],
    lambda_context: Any = None,
) -> tuple[dict[str, str], bool]:
    """``dispatch(fingerprint)`` once per key: ``({runId, publicAccessToken}, replayed)``."""
    fingerprint = key_fingerprint(workspace_id, session_id, route, key)

    def fresh_token(response: Any, _record: Any) -> dict[str, Any]:
        token = issue_run_token(secret, response["runId"], settings.run_token_ttl_s)
        return {"runId": response["runId"], "publicAccessToken": token, _REPLAYED: True}

    config = _config(lambda_context, fresh_token)
    persistence = _persistence(settings.table_name, settings.aws_endpoint_url)

    @idempotent_function(
        data_keyword_argument="request",
        persistence_store=persistence,
        config=config,
        output_serializer=DispatchSerializer(),
        key_prefix=KEY_PREFIX,
    )
    def start(request: dict[str, Any]) -> dict[str, str]:
        return dispatch(fingerprint)

    request = {"scope": {"fingerprint": fingerprint}, "body": body}
    deadline = time.monotonic() + _wait_budget(lambda_context)
    while True:
        try:
            answer = dict(start(request=request))
            break
        except IdempotencyValidationError:
            raise KeyReused() from None
        except (IdempotencyAlreadyInProgressError, IdempotencyInconsistentStateError):
            # The first request with this key is dispatching: its answer (or its failure, which frees the key
            # for this one) is a moment away.
            if time.monotonic() >= deadline:
                raise KeyInProgress(_run_of(store, workspace_id, session_id, fingerprint)) from None
            time.sleep(IN_PROGRESS_POLL_S)
    replayed = bool(answer.pop(_REPLAYED, False))
    return answer, replayed


def _wait_budget(lambda_context: Any) -> float:
    if lambda_context is None or not hasattr(lambda_context, "get_remaining_time_in_millis"):
        return IN_PROGRESS_WAIT_S
    # Leave the invocation time to answer.
    return max(0.0, min(IN_PROGRESS_WAIT_S, lambda_context.get_remaining_time_in_millis() / 1000 - 2))


def _run_of(store: SessionStore, workspace_id: str, session_id: str, fingerprint: str) -> str | None:
    """The run the in-flight request started, once it is recorded: the session's claim names it."""
    session = store.get_session(workspace_id, session_id)
    run_id = session.task_run_id if session else None
    if not run_id:
        return None
    run = store.get_run(run_id)
    return run_id if run and run.idempotency_key == fingerprint else None
