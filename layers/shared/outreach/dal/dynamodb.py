"""The store on one DynamoDB table. No item grows with use: every list that can grow is its own items.

Items (pk / sk):

- ``S#<session id>`` / ``SESSION``: a chat session's scalars (title, framework, bounded histories, claim),
  ``message_count``, and ``example_manifest``: the ordered list of the examples shown, each entry
  ``<lead key>#<run id>#<c|f>`` (completed or failed), at most 1,000 entries of about 50 bytes.
  ``gsi1`` (index ``by_campaign``) lists a workspace's sessions of a campaign, oldest first.
- ``S#<session id>`` / ``MSG#<n>``: chat message number n (0-based). Written in the same transaction
  that commits the turn's framework and bumps ``message_count``; never changed afterwards.
- ``S#<session id>`` / ``EX#<lead key>#<run id>``: one version of one lead's example, as the run that
  wrote it left it. The lead key is a short hash of the example's ``lead_id``.
- ``R#<run id>`` / ``RUN``: a run's status, timestamps and the input context its workers need.
- ``R#<run id>`` / ``LEAD#<index>``: one lead of a generate run, then its result. Progress is
  counted from these items, so parallel leads never contend for one counter item.
- ``W#<workspace id>`` / ``LLM_LEASES``: the workspace's in-flight LLM calls (expiring leases).
- ``K#<keyed hash>`` / ``APIKEY``: an API key's workspace. The key itself is never stored.

Each item's attributes are the entity models of ``outreach/models/items.py``: validated before every write, and
what every read returns (without the key attributes above).

How a run's examples merge, atomically and conditional on the claim, however many there are. A
DynamoDB transaction holds at most 100 actions, so a 100-lead merge with its replacements cannot be one
transaction. Instead the examples are versioned: the aggregate first writes this run's example items
(``EX#<lead key>#<run id>``, new keys, invisible because nothing refers to them yet), then ONE
transaction swaps the session's manifest to the merged order and releases the claim, on the condition
that this run still holds it. Readers follow the manifest, so they see all of the run's examples or
none. Versions the new manifest no longer names are deleted after the commit, best-effort; versions
of runs that never committed are swept by the next run that commits (while it holds the claim, no
other run can commit, so anything outside the manifest is garbage).

A session read is one Query of its item collection (sk order: ``EX#``, ``MSG#``, ``SESSION``), then a
BatchGetItem of whatever the manifest names that the pages missed (a commit landed mid-read).
"""

from __future__ import annotations

import functools
import hmac
import json
import logging
import random
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, TypeVar

import boto3
from boto3.dynamodb.conditions import Attr, Key
from boto3.dynamodb.types import TypeDeserializer
from botocore.config import Config
from botocore.exceptions import ClientError
from pydantic import BaseModel

from outreach.dal.base import example_lead_key, manifest_entry, version_of
from outreach.errors import (
    ClaimLost,
    ItemTooLarge,
    NoFramework,
    RunAlreadyFinished,
    SessionBusy,
    SessionNotFound,
    StoreThrottled,
)
from outreach.models.items import (
    ApiKeyItem,
    ExampleItem,
    LeadItem,
    MessageItem,
    RunItem,
    SessionDetail,
    SessionItem,
)

SESSION_SK = "SESSION"
RUN_SK = "RUN"
LEAD_PREFIX = "LEAD#"
MESSAGE_PREFIX = "MSG#"
EXAMPLE_PREFIX = "EX#"
BY_CAMPAIGN_INDEX = "by_campaign"
KEY_CACHE_S = 30  # a warm API container re-reads a key's workspace at most this often
# Standard mode: exponential backoff with jitter on throttling and 5xx, a retry quota per client.
RETRY_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8})
THROTTLING_CODES = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
}
# The store's key attributes: never part of an entity.
_KEYS = frozenset({"pk", "sk", "gsi1pk", "gsi1sk"})
_logger = logging.getLogger(__name__)
_deserializer = TypeDeserializer()
Entity = TypeVar("Entity", bound=BaseModel)


def to_item(value: Any) -> Any:
    """JSON-shaped data to what DynamoDB stores (floats as Decimal)."""
    return json.loads(json.dumps(value), parse_float=Decimal)


def from_item(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: from_item(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [from_item(v) for v in value]
    return value


def session_key(session_id: str) -> dict[str, str]:
    return {"pk": f"S#{session_id}", "sk": SESSION_SK}


def run_key(run_id: str) -> dict[str, str]:
    return {"pk": f"R#{run_id}", "sk": RUN_SK}


def lead_key(run_id: str, index: int) -> dict[str, str]:
    return {"pk": f"R#{run_id}", "sk": f"{LEAD_PREFIX}{index:05d}"}


def message_sk(number: int) -> str:
    return f"{MESSAGE_PREFIX}{number:05d}"


def _entity(model: type[Entity], item: dict[str, Any]) -> Entity:
    """An item read (plain Python values, see from_item) as its entity model, without the store's keys."""
    return model.model_validate({k: v for k, v in item.items() if k not in _KEYS})


def _campaign_partition(workspace_id: str, campaign_id: str) -> str:
    """The ``by_campaign`` index partition: one workspace's sessions of one campaign."""
    return f"WS#{workspace_id}#C#{campaign_id}"


def _campaign_keys(workspace_id: str, campaign_id: str, created_at: str, session_id: str) -> dict[str, str]:
    """The ``by_campaign`` index key of a session: its workspace's campaign, oldest first."""
    return {"gsi1pk": _campaign_partition(workspace_id, campaign_id), "gsi1sk": f"{created_at}#{session_id}"}


def _set_expression(fields: dict[str, Any], prefix: str = "f") -> tuple[str, dict[str, str], dict[str, Any]]:
    names, values, parts = {}, {}, []
    for i, (name, value) in enumerate(fields.items()):
        names[f"#{prefix}{i}"] = name
        values[f":{prefix}{i}"] = to_item(value)
        parts.append(f"#{prefix}{i} = :{prefix}{i}")
    return ", ".join(parts), names, values


def _old_item(error: ClientError) -> dict[str, Any]:
    """ALL_OLD of a failed condition. Error bodies are not in the operation's output shape, so the resource's
    client leaves them in DynamoDB JSON."""
    raw = error.response.get("Item") or {}
    return from_item({k: _deserializer.deserialize(v) for k, v in raw.items()})


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def _throttled(error: ClientError) -> bool:
    if _code(error) in THROTTLING_CODES:
        return True
    reasons = [r.get("Code") for r in error.response.get("CancellationReasons", []) or []]
    return _code(error) == "TransactionCanceledException" and bool(THROTTLING_CODES & set(reasons))


def _throttling_is_transient(method):
    """Throttling that outlasted the SDK's retries surfaces as StoreThrottled, which callers treat as transient."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except ClientError as error:
            if _throttled(error):
                raise StoreThrottled(f"DynamoDB throttled {method.__name__}") from error
            raise

    return wrapper


def _backoff(attempt: int) -> None:
    time.sleep(min(2.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.0))  # full-ish jitter


class DynamoDBStore:
    """SessionStore, RunStore, LlmLeaseStore and ApiKeyStore (dal/base.py) on one table.

    Everything goes through the boto3 resource; its client (``table.meta.client``) takes and returns
    Python values too, so transactions, batch reads and paginators need no hand-made serialisation.
    """

    def __init__(self, table_name: str, *, resource=None):
        self.table_name = table_name
        self._table = (resource or boto3.resource("dynamodb", config=RETRY_CONFIG)).Table(table_name)
        self._client = self._table.meta.client
        self._key_cache: dict[str, tuple[str, float]] = {}

    def _update_if(self, **kwargs: Any) -> dict[str, Any] | None:
        """UpdateItem whose ConditionExpression may not hold: None then, the response otherwise."""
        try:
            return self._table.update_item(**kwargs)
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                return None
            raise

    def _query_pages(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every page of a Query (boto3's paginator): its items, or its ``Count`` with ``Select="COUNT"``."""
        yield from self._client.get_paginator("query").paginate(TableName=self.table_name, **kwargs)

    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every item a Query matches, page after page, as plain Python values."""
        for page in self._query_pages(**kwargs):
            for item in page.get("Items", []):
                yield from_item(item)

    def _batch_get(self, keys: list[dict[str, str]], projection: str | None = None) -> list[dict[str, Any]]:
        """BatchGetItem, 100 keys a request, retrying UnprocessedKeys with backoff."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {"Keys": keys[start : start + 100], "ConsistentRead": True}
            if projection:
                request["ProjectionExpression"] = projection
            pending = {self.table_name: request}
            for attempt in range(10):
                out = self._client.batch_get_item(RequestItems=pending)
                found += [from_item(i) for i in out.get("Responses", {}).get(self.table_name, [])]
                pending = out.get("UnprocessedKeys") or {}
                if not pending:
                    break
                _backoff(attempt)
            else:
                raise StoreThrottled("DynamoDB left keys unprocessed after 10 attempts")
        return found

    def _collection_keys(self, session_id: str, prefix: str = "") -> list[str]:
        condition = Key("pk").eq(f"S#{session_id}")
        if prefix:
            condition &= Key("sk").begins_with(prefix)
        return [item["sk"] for item in self._query(KeyConditionExpression=condition, ProjectionExpression="sk",
                                                   ConsistentRead=True)]

    # ---------------------------------------------------------------- sessions
    @_throttling_is_transient
    def create_session(self, workspace_id: str, session: dict[str, Any]) -> SessionItem:
        stored = {**session, "workspace_id": workspace_id, "message_count": 0, "example_manifest": []}
        entity = SessionItem.model_validate(stored)
        item = {
            **session_key(session["id"]),
            **to_item(stored),
            **_campaign_keys(workspace_id, session["campaign_id"], session["created_at"], session["id"]),
        }
        self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
        return entity

    @_throttling_is_transient
    def get_session(self, workspace_id: str, session_id: str) -> SessionItem | None:
        item = self._table.get_item(Key=session_key(session_id), ConsistentRead=True).get("Item")
        if not item or item.get("workspace_id") != workspace_id:
            return None
        return _entity(SessionItem, self._upgraded(from_item(item)))

    def _upgraded(self, item: dict[str, Any]) -> dict[str, Any]:
        """Sessions written before messages and examples were their own items hold them inline: move them out,
        once, before anything reads or writes them (every path reads the session item first)."""
        if "messages" not in item and "generated_examples" not in item:
            return item
        session_id = item["id"]
        messages, examples = item.get("messages") or [], item.get("generated_examples") or []
        with self._table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
            for number, message in enumerate(messages):
                batch.put_item(Item={"pk": f"S#{session_id}", "sk": message_sk(number), **to_item(message)})
        self.put_examples(session_id, examples)
        manifest = [manifest_entry(example_lead_key(e["lead_id"]), e["run_id"], e["status"]) for e in examples]
        self._update_if(
            Key=session_key(session_id),
            UpdateExpression="SET message_count = :n, example_manifest = :m REMOVE messages, generated_examples",
            ConditionExpression="attribute_exists(messages) OR attribute_exists(generated_examples)",
            ExpressionAttributeValues={":n": len(messages), ":m": manifest},
        )  # a concurrent reader may have moved them first: the same items, the same counts
        fresh = self._table.get_item(Key=session_key(session_id), ConsistentRead=True).get("Item")
        return from_item(fresh) if fresh else item

    @_throttling_is_transient
    def read_session(self, workspace_id: str, session_id: str) -> SessionDetail | None:
        for _ in range(3):
            session, messages, examples = None, {}, {}
            for item in self._query(KeyConditionExpression=Key("pk").eq(f"S#{session_id}"), ConsistentRead=True):
                sk = item["sk"]
                if sk == SESSION_SK:
                    session = item
                elif sk.startswith(MESSAGE_PREFIX):
                    messages[sk] = item
                elif sk.startswith(EXAMPLE_PREFIX):
                    examples[sk] = item
            if session is None or session.get("workspace_id") != workspace_id:
                return None
            if "messages" in session or "generated_examples" in session:
                self._upgraded(session)
                continue
            wanted_messages = [message_sk(n) for n in range(int(session.get("message_count") or 0))]
            wanted_examples = [EXAMPLE_PREFIX + version_of(e) for e in session.get("example_manifest") or []]
            missing = [sk for sk in wanted_messages + wanted_examples if sk not in messages and sk not in examples]
            if missing:  # a commit landed between the pages: fetch what the manifest names
                for item in self._batch_get([{"pk": f"S#{session_id}", "sk": sk} for sk in missing]):
                    (messages if item["sk"].startswith(MESSAGE_PREFIX) else examples)[item["sk"]] = item
            if all(sk in messages or sk in examples for sk in missing):
                session["messages"] = [_message_view(messages[sk]) for sk in wanted_messages]
                session["generated_examples"] = [_example_view(examples[sk]) for sk in wanted_examples]
                return _entity(SessionDetail, session)
        raise RuntimeError(f"session {session_id} kept changing while it was read")

    @_throttling_is_transient
    def get_session_messages(self, workspace_id: str, session_id: str) -> list[MessageItem]:
        """The chat only (a lead's review reads it): not the examples."""
        session = self.get_session(workspace_id, session_id)
        return self.recent_messages(session_id, session.message_count, 10**9) if session else []

    @_throttling_is_transient
    def get_messages(self, session_id: str, start: int, stop: int) -> list[MessageItem]:
        """Messages ``start`` to ``stop - 1`` (numbered from 0), oldest first."""
        if stop <= start:
            return []
        span = Key("sk").between(message_sk(start), message_sk(stop - 1))
        query = self._query(KeyConditionExpression=Key("pk").eq(f"S#{session_id}") & span, ConsistentRead=True)
        return [MessageItem.model_validate(_message_view(item)) for item in query]

    @_throttling_is_transient
    def get_examples(self, session_id: str, versions: list[str]) -> list[ExampleItem] | None:
        """The example versions named, in that order; None when one is gone (a newer manifest replaced it)."""
        keys = [{"pk": f"S#{session_id}", "sk": EXAMPLE_PREFIX + v} for v in dict.fromkeys(versions)]
        found = {item["sk"]: item for item in self._batch_get(keys)}
        if len(found) < len(keys):
            return None
        return [_entity(ExampleItem, found[EXAMPLE_PREFIX + v]) for v in versions]

    @_throttling_is_transient
    def list_sessions(
        self, workspace_id: str, campaign_id: str, *, limit: int, start_key: dict[str, str] | None
    ) -> tuple[list[SessionItem], dict[str, str] | None]:
        kwargs: dict[str, Any] = {
            "IndexName": BY_CAMPAIGN_INDEX,
            "KeyConditionExpression": Key("gsi1pk").eq(_campaign_partition(workspace_id, campaign_id)),
            "Limit": limit + 1,  # one more than asked says whether another page follows
        }
        if start_key:
            kwargs["ExclusiveStartKey"] = start_key
        items: list[dict[str, Any]] = []
        for item in self._query(**kwargs):
            items.append(item)
            if len(items) > limit:
                break
        sessions = [_entity(SessionItem, item) for item in items[:limit]]
        return sessions, (self.page_key_after(sessions[-1]) if len(items) > limit else None)

    def page_key_after(self, session: SessionItem) -> dict[str, str]:
        """Where a listing of the session's campaign continues after it: its index key."""
        return {
            **session_key(session.id),
            **_campaign_keys(session.workspace_id, session.campaign_id, session.created_at, session.id),
        }

    @_throttling_is_transient
    def update_session(
        self,
        workspace_id: str,
        session_id: str,
        fields: dict[str, Any],
        *,
        expected_updated_at: str,
        unless_task: str | None = None,
        now: int = 0,
    ) -> SessionItem | None:
        """Set ``fields`` if nobody wrote the session since it was read (and, with ``unless_task``, while no
        live claim of that task holds it); None when the condition failed."""
        expression, names, values = _set_expression(fields)
        names.update({"#ws": "workspace_id", "#u": "updated_at"})
        values.update({":ws": workspace_id, ":seen": expected_updated_at})
        condition = "attribute_exists(pk) AND #ws = :ws AND #u = :seen"
        if unless_task:
            condition += " AND (attribute_not_exists(task_status) OR task_status <> :task OR task_expires_at < :now)"
            values.update({":task": unless_task, ":now": now})
        out = self._update_if(
            Key=session_key(session_id),
            UpdateExpression=f"SET {expression}",
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        return _entity(SessionItem, from_item(out["Attributes"])) if out is not None else None

    @_throttling_is_transient
    def delete_session(self, workspace_id: str, session_id: str) -> bool:
        """Delete the session item first (the whole session disappears at once), then its collection."""
        try:
            self._table.delete_item(
                Key=session_key(session_id),
                ConditionExpression="workspace_id = :ws",
                ExpressionAttributeValues={":ws": workspace_id},
            )
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                return False
            raise
        try:
            with self._table.batch_writer() as batch:
                for sk in self._collection_keys(session_id):
                    batch.delete_item(Key={"pk": f"S#{session_id}", "sk": sk})
        except ClientError:  # what is left is unreachable without its session item; the next delete retries
            _logger.warning("could not delete all of a deleted session's items", exc_info=True)
        return True

    @_throttling_is_transient
    def claim_session(
        self,
        workspace_id: str,
        session_id: str,
        *,
        task_status: str,
        run_id: str,
        now: int,
        expires_at: int,
        require_skeleton: bool,
    ) -> SessionItem:
        """One conditional write; on failure the old item (ALL_OLD) tells 404, 409 and 400 apart, 409 first.
        Returns the session as claimed: the framework the run is grounded in, which the claim keeps chat turns
        from changing meanwhile."""
        condition = (
            "attribute_exists(pk) AND workspace_id = :ws"
            " AND (attribute_not_exists(task_status) OR task_expires_at < :now)"
        )
        values: dict[str, Any] = {
            ":ws": workspace_id, ":now": now, ":ts": task_status, ":run": run_id, ":exp": expires_at
        }
        if require_skeleton:
            condition += " AND attribute_type(skeleton, :map)"
            values[":map"] = "M"
        try:
            out = self._table.update_item(
                Key=session_key(session_id),
                UpdateExpression="SET task_status = :ts, task_run_id = :run, task_expires_at = :exp",
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _code(error) != "ConditionalCheckFailedException":
                raise
            old = _old_item(error)
            if not old or old.get("workspace_id") != workspace_id:
                raise SessionNotFound() from None
            if old.get("task_status") and int(old.get("task_expires_at") or 0) >= now:
                raise SessionBusy(old["task_status"]) from None
            raise NoFramework() from None
        return _entity(SessionItem, from_item(out["Attributes"]))

    @_throttling_is_transient
    def release_claim(self, session_id: str, run_id: str) -> bool:
        """Free the session if, and only if, this run still holds it."""
        return (
            self._update_if(
                Key=session_key(session_id),
                UpdateExpression="REMOVE task_status, task_run_id, task_expires_at",
                ConditionExpression="task_run_id = :run",
                ExpressionAttributeValues={":run": run_id},
            )
            is not None
        )

    @_throttling_is_transient
    def recent_messages(self, session_id: str, message_count: int, max_chars: int) -> list[MessageItem]:
        """The newest messages, oldest first, until their contents pass ``max_chars`` (the one crossing it
        included, so the caller can see what it dropped)."""
        if message_count <= 0:
            return []
        newest_first: list[MessageItem] = []
        used = 0
        for item in self._query(
            KeyConditionExpression=Key("pk").eq(f"S#{session_id}")
            & Key("sk").between(message_sk(0), message_sk(message_count - 1)),
            ScanIndexForward=False,
            ConsistentRead=True,
        ):
            newest_first.append(MessageItem.model_validate(_message_view(item)))
            used += len(item.get("content") or "")
            if used > max_chars:
                break
        return newest_first[::-1]

    @_throttling_is_transient
    def put_examples(self, session_id: str, examples: list[dict[str, Any]]) -> None:
        """Write example versions (new keys only a manifest can make visible). Idempotent."""
        for example in examples:
            ExampleItem.model_validate(example)
        with self._table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
            for example in examples:
                version = f"{example_lead_key(example['lead_id'])}#{example['run_id']}"
                batch.put_item(Item={"pk": f"S#{session_id}", "sk": EXAMPLE_PREFIX + version, **to_item(example)})

    @_throttling_is_transient
    def example_version_keys(self, session_id: str) -> list[str]:
        return [sk.removeprefix(EXAMPLE_PREFIX) for sk in self._collection_keys(session_id, EXAMPLE_PREFIX)]

    @_throttling_is_transient
    def delete_example_versions(self, session_id: str, versions: list[str]) -> None:
        with self._table.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as batch:
            for version in versions:
                batch.delete_item(Key={"pk": f"S#{session_id}", "sk": EXAMPLE_PREFIX + version})

    # -------------------------------------------------------------------- runs
    @_throttling_is_transient
    def create_run(self, run: dict[str, Any], leads: list[dict[str, Any]]) -> None:
        RunItem.model_validate(run)
        for lead in leads:
            LeadItem.model_validate(lead)
        # One batch for the run and its leads: up to 24 leads cost a single request.
        with self._table.batch_writer() as batch:
            batch.put_item(Item={**run_key(run["id"]), **to_item(run)})
            for lead in leads:
                batch.put_item(Item={**lead_key(run["id"], lead["index"]), **to_item(lead)})

    @_throttling_is_transient
    def get_run(self, run_id: str) -> RunItem | None:
        item = self._table.get_item(Key=run_key(run_id), ConsistentRead=True).get("Item")
        return _entity(RunItem, from_item(item)) if item else None

    @_throttling_is_transient
    def get_run_leads(self, run_id: str) -> list[LeadItem]:
        items = self._query(
            KeyConditionExpression=Key("pk").eq(f"R#{run_id}") & Key("sk").begins_with(LEAD_PREFIX),
            ConsistentRead=True,
        )
        return sorted((_entity(LeadItem, item) for item in items), key=lambda lead: lead.index)

    @_throttling_is_transient
    def get_run_and_lead(self, run_id: str, index: int) -> tuple[RunItem | None, LeadItem | None]:
        """Both in one request: every lead's worker needs its run's context and its own lead."""
        found = {item["sk"]: item for item in self._batch_get([run_key(run_id), lead_key(run_id, index)])}
        run, lead = found.get(RUN_SK), found.get(lead_key(run_id, index)["sk"])
        return (_entity(RunItem, run) if run else None), (_entity(LeadItem, lead) if lead else None)

    @_throttling_is_transient
    def get_lead(self, run_id: str, index: int) -> LeadItem | None:
        item = self._table.get_item(Key=lead_key(run_id, index), ConsistentRead=True).get("Item")
        return _entity(LeadItem, from_item(item)) if item else None

    @_throttling_is_transient
    def mark_run_executing(self, run_id: str, now_iso: str) -> None:
        self._update_if(
            Key=run_key(run_id),
            UpdateExpression="SET #s = :exec, started_at = :now",
            ConditionExpression="#s = :queued",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":exec": "EXECUTING", ":queued": "QUEUED", ":now": now_iso},
        )

    @_throttling_is_transient
    def record_lead(self, run_id: str, index: int, fields: dict[str, Any]) -> bool:
        """Write a lead's result once; a repeat (a retried task) changes nothing and returns False."""
        expression, names, values = _set_expression(fields)
        names["#s"] = "status"
        values[":pending"] = "pending"
        return (
            self._update_if(
                Key=lead_key(run_id, index),
                UpdateExpression=f"SET {expression}",
                ConditionExpression="#s = :pending",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
            is not None
        )

    @_throttling_is_transient
    def finish_run_with_session(
        self,
        run_id: str,
        session_id: str,
        session_fields: dict[str, Any],
        run_fields: dict[str, Any],
        *,
        new_messages: list[dict[str, Any]] = (),
        first_message: int = 0,
    ) -> None:
        """In one transaction: write the session and free it (only while this run holds it), add the
        turn's messages as their own items (numbered from ``first_message``, never overwriting one), and
        finish the run. At most 2 + len(new_messages) actions, whatever the session holds.

        Raises ClaimLost when the run no longer holds the session, RunAlreadyFinished when it was done before.
        """
        s_expr, s_names, s_values = _set_expression(session_fields, "s")
        r_expr, r_names, r_values = _set_expression(run_fields, "r")
        actions: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": session_key(session_id),
                    "UpdateExpression": f"SET {s_expr} REMOVE task_status, task_run_id, task_expires_at",
                    "ConditionExpression": "task_run_id = :run",
                    "ExpressionAttributeNames": s_names,
                    "ExpressionAttributeValues": {**s_values, ":run": run_id},
                }
            },
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": run_key(run_id),
                    "UpdateExpression": f"SET {r_expr}",
                    "ConditionExpression": "#st IN (:q, :e)",
                    "ExpressionAttributeNames": {**r_names, "#st": "status"},
                    "ExpressionAttributeValues": {**r_values, ":q": "QUEUED", ":e": "EXECUTING"},
                }
            },
        ]
        for number, message in enumerate(new_messages, start=first_message):
            MessageItem.model_validate(message)
            actions.append(
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": {"pk": f"S#{session_id}", "sk": message_sk(number), **to_item(message)},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        try:
            self._client.transact_write_items(TransactItems=actions)
        except ClientError as error:
            if _code(error) == "ValidationException" and "size" in str(error).lower():
                raise ItemTooLarge() from None  # moto says it this way
            if _code(error) != "TransactionCanceledException" or _throttled(error):
                raise
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            if "ValidationError" in reasons:
                raise ItemTooLarge() from None  # AWS: a transaction over the item size limit
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                raise RunAlreadyFinished() from None
            if "ConditionalCheckFailed" in reasons:
                raise ClaimLost() from None
            raise

    @_throttling_is_transient
    def fail_run(self, run_id: str, run_fields: dict[str, Any]) -> bool:
        expression, names, values = _set_expression(run_fields)
        names["#st"] = "status"
        values.update({":q": "QUEUED", ":e": "EXECUTING"})
        return (
            self._update_if(
                Key=run_key(run_id),
                UpdateExpression=f"SET {expression}",
                ConditionExpression="#st IN (:q, :e)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
            is not None
        )

    # ------------------------------------------------------ run control
    def cancel_run(self, run_id: str, run_fields: dict[str, Any]) -> bool:
        """Mark a running run CANCELED; False when it had already finished (its status decides, not the caller)."""
        return self.fail_run(run_id, {**run_fields, "status": "CANCELED"})

    def cancel_pending_leads(self, run_id: str, now_iso: str) -> int:
        """Close every lead of a run still pending, so a late worker's write-once result is refused."""
        canceled = 0
        for sk in self._pending_lead_keys(run_id):
            canceled += self._update_if(
                Key={"pk": f"R#{run_id}", "sk": sk},
                UpdateExpression="SET #s = :canceled, finished_at = :now",
                ConditionExpression="#s = :pending",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":canceled": "canceled", ":pending": "pending", ":now": now_iso},
            ) is not None
        return canceled

    def count_finished_leads(self, run_id: str) -> int:
        """How many of a run's leads have a result (completed or failed): a count, no item comes back."""
        return sum(
            int(page.get("Count", 0))
            for page in self._lead_pages(
                run_id, Select="COUNT", FilterExpression=Attr("status").is_in(["completed", "failed"])
            )
        )

    def _pending_lead_keys(self, run_id: str) -> list[str]:
        pages = self._lead_pages(
            run_id, ProjectionExpression="sk", FilterExpression=Attr("status").eq("pending")
        )
        return [str(item["sk"]) for page in pages for item in page.get("Items", [])]

    def _lead_pages(self, run_id: str, **query: Any) -> Iterator[dict[str, Any]]:
        return self._query_pages(
            KeyConditionExpression=Key("pk").eq(f"R#{run_id}") & Key("sk").begins_with(LEAD_PREFIX),
            ConsistentRead=True,
            **query,
        )

    # ------------------------------------------------------- LLM concurrency
    @_throttling_is_transient
    def acquire_llm_slot(self, workspace_id: str, lease_id: str, *, cap: int, now: int, expires_at: int) -> bool:
        """Take one of the workspace's ``cap`` concurrent LLM slots. Leases expire, so a crashed worker's
        slot comes back by itself."""
        key = {"pk": f"W#{workspace_id}", "sk": "LLM_LEASES"}
        for _ in range(3):
            try:
                self._table.update_item(
                    Key=key,
                    UpdateExpression="SET leases.#lease = :exp",
                    ConditionExpression="attribute_exists(leases) AND size(leases) < :cap",
                    ExpressionAttributeNames={"#lease": lease_id},
                    ExpressionAttributeValues={":exp": expires_at, ":cap": cap},
                )
                return True
            except ClientError as error:
                code = _code(error)
                if code == "ConditionalCheckFailedException" and not self._has_leases(key):
                    code = "first use"
                if code == "first use":  # the workspace's lease item is not there yet
                    try:
                        self._table.put_item(
                            Item={**key, "leases": {}, "workspace_id": workspace_id},
                            ConditionExpression="attribute_not_exists(leases)",
                        )
                    except ClientError as put_error:
                        if _code(put_error) != "ConditionalCheckFailedException":
                            raise
                    continue
                if code != "ConditionalCheckFailedException":
                    raise
            if not self._sweep_expired_leases(key, now):
                return False
        return False

    def _has_leases(self, key: dict[str, str]) -> bool:
        return "Item" in self._table.get_item(Key=key, ConsistentRead=True, ProjectionExpression="pk")

    def _sweep_expired_leases(self, key: dict[str, str], now: int) -> bool:
        item = self._table.get_item(Key=key, ConsistentRead=True).get("Item") or {}
        expired = [lease for lease, expires in (item.get("leases") or {}).items() if int(expires) < now]
        if not expired:
            return False
        names = {f"#l{i}": lease for i, lease in enumerate(expired)}
        self._table.update_item(
            Key=key,
            UpdateExpression="REMOVE " + ", ".join(f"leases.{name}" for name in names),
            ExpressionAttributeNames=names,
        )
        return True

    @_throttling_is_transient
    def release_llm_slot(self, workspace_id: str, lease_id: str) -> None:
        self._table.update_item(
            Key={"pk": f"W#{workspace_id}", "sk": "LLM_LEASES"},
            UpdateExpression="REMOVE leases.#lease",
            ExpressionAttributeNames={"#lease": lease_id},
        )

    # ---------------------------------------------------------------- API keys
    @_throttling_is_transient
    def put_api_key(self, key_hash: str, workspace_id: str, created_at: str) -> None:
        item = ApiKeyItem(key_hash=key_hash, workspace_id=workspace_id, created_at=created_at)
        self._table.put_item(Item={"pk": f"K#{key_hash}", "sk": "APIKEY", **item.model_dump()})

    def workspace_for_key(self, key_hash: str) -> str | None:
        cached = self._key_cache.get(key_hash)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        workspace = self._lookup_key(key_hash)
        if workspace is not None:  # unknown keys are not cached: a new key works at once
            self._key_cache[key_hash] = (workspace, time.monotonic() + KEY_CACHE_S)
        return workspace

    @_throttling_is_transient
    def _lookup_key(self, key_hash: str) -> str | None:
        item = self._table.get_item(Key={"pk": f"K#{key_hash}", "sk": "APIKEY"}).get("Item")
        # Compared in constant time, so timing says nothing about how much of a guess matched.
        if not item or not hmac.compare_digest(str(item.get("key_hash", "")), key_hash):
            return None
        return str(item["workspace_id"])


def _message_view(item: dict[str, Any]) -> dict[str, Any]:
    return {"role": item["role"], "content": item["content"], "created_at": item["created_at"]}


def _example_view(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in ("pk", "sk")}
