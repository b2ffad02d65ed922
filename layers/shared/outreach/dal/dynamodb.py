"""The session store on one DynamoDB table.

Items (pk / sk):
- ``S#<session id>`` / ``SESSION``: a chat session; ``gsi1`` lists a workspace's sessions of a campaign.
- ``R#<run id>`` / ``RUN``: a run's status, timestamps and frozen input context.
- ``R#<run id>`` / ``LEAD#<index>``: one lead of a generate run, then its result. Progress is
  counted from these items, so parallel leads never contend for one counter item.
- ``K#<keyed hash>`` / ``APIKEY``: an API key's workspace. The key itself is never stored.
"""

from __future__ import annotations

import hmac
import json
import time
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.conditions import Attr, Key
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from outreach.errors import ClaimLost, NoFramework, SessionBusy, SessionNotFound

SESSION_SK = "SESSION"
RUN_SK = "RUN"
LEAD_PREFIX = "LEAD#"
BY_CAMPAIGN_INDEX = "by_campaign"
FINAL_STATUSES = ("COMPLETED", "FAILED", "CANCELED")
KEY_CACHE_S = 30  # a warm API container re-reads a key's workspace at most this often
_INTERNAL = ("pk", "sk", "gsi1pk", "gsi1sk", "workspace_id", "expires_at", "task_run_id", "task_expires_at")
_deserializer = TypeDeserializer()


class RunAlreadyFinished(Exception):
    """The run was finished by an earlier call: nothing to do again."""


class ItemTooLarge(Exception):
    """The write would take an item past DynamoDB's 400 KB limit."""


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


def strip_internal(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in _INTERNAL}


def _set_expression(fields: dict[str, Any], prefix: str = "f") -> tuple[str, dict[str, str], dict[str, Any]]:
    names, values, parts = {}, {}, []
    for i, (name, value) in enumerate(fields.items()):
        names[f"#{prefix}{i}"] = name
        values[f":{prefix}{i}"] = to_item(value)
        parts.append(f"#{prefix}{i} = :{prefix}{i}")
    return ", ".join(parts), names, values


def _old_item(error: ClientError) -> dict[str, Any] | None:
    raw = error.response.get("Item")
    if not raw:
        return None
    return from_item({k: _deserializer.deserialize(v) for k, v in raw.items()})


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


class DynamoDBSessionStore:
    def __init__(self, table_name: str, *, client=None, resource=None):
        self.table_name = table_name
        self._client = client or boto3.client("dynamodb")
        self._table = (resource or boto3.resource("dynamodb")).Table(table_name)
        self._key_cache: dict[str, tuple[str, float]] = {}

    def _update_if(self, **kwargs: Any) -> dict[str, Any] | None:
        """UpdateItem whose ConditionExpression may not hold: None then, the response otherwise."""
        try:
            return self._table.update_item(**kwargs)
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                return None
            raise

    # ---------------------------------------------------------------- sessions
    def create_session(self, workspace_id: str, session: dict[str, Any]) -> None:
        item = {
            **session_key(session["id"]),
            **to_item(session),
            "workspace_id": workspace_id,
            "gsi1pk": f"WS#{workspace_id}#C#{session['campaign_id']}",
            "gsi1sk": f"{session['created_at']}#{session['id']}",
        }
        self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")

    def _raw_session(self, session_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key=session_key(session_id), ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def get_session(self, workspace_id: str, session_id: str) -> dict[str, Any] | None:
        item = self._raw_session(session_id)
        if not item or item.get("workspace_id") != workspace_id:
            return None
        return item

    def get_session_messages(self, workspace_id: str, session_id: str) -> list[dict[str, Any]]:
        """The chat only (a lead's review reads it): not the examples, which can be hundreds of KB."""
        item = self._table.get_item(
            Key=session_key(session_id), ProjectionExpression="workspace_id, messages"
        ).get("Item")
        if not item or item.get("workspace_id") != workspace_id:
            return []
        return from_item(item).get("messages") or []

    def list_sessions(self, workspace_id: str, campaign_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "IndexName": BY_CAMPAIGN_INDEX,
            "KeyConditionExpression": Key("gsi1pk").eq(f"WS#{workspace_id}#C#{campaign_id}"),
        }
        while True:
            page = self._table.query(**kwargs)
            items += [from_item(i) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def update_session(
        self, workspace_id: str, session_id: str, fields: dict[str, Any], *, expected_updated_at: str
    ) -> dict[str, Any] | None:
        """Set ``fields`` if nobody wrote the session since it was read; None when someone did."""
        expression, names, values = _set_expression(fields)
        names.update({"#ws": "workspace_id", "#u": "updated_at"})
        values.update({":ws": workspace_id, ":seen": expected_updated_at})
        out = self._update_if(
            Key=session_key(session_id),
            UpdateExpression=f"SET {expression}",
            ConditionExpression="attribute_exists(pk) AND #ws = :ws AND #u = :seen",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        return from_item(out["Attributes"]) if out is not None else None

    def delete_session(self, workspace_id: str, session_id: str) -> bool:
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
        return True

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
    ) -> dict[str, Any]:
        """One conditional write; on failure the old item (ALL_OLD) tells 404, 409 and 400 apart, 409 first."""
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
            self._table.update_item(
                Key=session_key(session_id),
                UpdateExpression="SET task_status = :ts, task_run_id = :run, task_expires_at = :exp",
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
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
        # Only the framework, not the whole session (its examples can be hundreds of KB). The claim
        # keeps chat turns from changing the skeleton meanwhile.
        item = self._table.get_item(
            Key=session_key(session_id),
            ConsistentRead=True,
            ProjectionExpression="skeleton, draft_subject, draft_body, framework_version",
        ).get("Item")
        return from_item(item or {})

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

    # -------------------------------------------------------------------- runs
    def create_run(self, run: dict[str, Any], leads: list[dict[str, Any]]) -> None:
        # One batch for the run and its leads: up to 24 leads cost a single request.
        with self._table.batch_writer() as batch:
            batch.put_item(Item={**run_key(run["id"]), **to_item(run)})
            for lead in leads:
                batch.put_item(Item={**lead_key(run["id"], lead["index"]), **to_item(lead)})

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key=run_key(run_id), ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def get_run_leads(self, run_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(f"R#{run_id}") & Key("sk").begins_with(LEAD_PREFIX),
            "ConsistentRead": True,
        }
        while True:
            page = self._table.query(**kwargs)
            items += [from_item(i) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return sorted(items, key=lambda i: i["index"])
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get_run_and_lead(self, run_id: str, index: int) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """Both in one request: every lead's worker needs its run's context and its own lead."""
        keys = [run_key(run_id), lead_key(run_id, index)]
        request = {self.table_name: {"Keys": keys, "ConsistentRead": True}}
        found: dict[str, dict[str, Any]] = {}
        while request:
            out = self._table.meta.client.batch_get_item(RequestItems=request)
            for item in out.get("Responses", {}).get(self.table_name, []):
                found[item["sk"]] = from_item(item)
            request = out.get("UnprocessedKeys") or {}
        return found.get(RUN_SK), found.get(lead_key(run_id, index)["sk"])

    def get_lead(self, run_id: str, index: int) -> dict[str, Any] | None:
        item = self._table.get_item(Key=lead_key(run_id, index), ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    def mark_run_executing(self, run_id: str, now_iso: str) -> None:
        self._update_if(
            Key=run_key(run_id),
            UpdateExpression="SET #s = :exec, started_at = :now",
            ConditionExpression="#s = :queued",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":exec": "EXECUTING", ":queued": "QUEUED", ":now": now_iso},
        )

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

    def finish_run_with_session(
        self, run_id: str, session_id: str, session_fields: dict[str, Any], run_fields: dict[str, Any]
    ) -> None:
        """In one transaction: write the session and free it (only while this run holds it), and finish the run.

        Raises ClaimLost when the run no longer holds the session, RunAlreadyFinished when it was done before.
        """
        s_expr, s_names, s_values = _set_expression(session_fields, "s")
        r_expr, r_names, r_values = _set_expression(run_fields, "r")
        s_values[":run"] = {"S": run_id}
        serialize = TypeSerializer().serialize
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table_name,
                            "Key": {k: {"S": v} for k, v in session_key(session_id).items()},
                            "UpdateExpression": f"SET {s_expr} REMOVE task_status, task_run_id, task_expires_at",
                            "ConditionExpression": "task_run_id = :run",
                            "ExpressionAttributeNames": s_names,
                            "ExpressionAttributeValues": {
                                k: (v if k == ":run" else serialize(v)) for k, v in s_values.items()
                            },
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table_name,
                            "Key": {k: {"S": v} for k, v in run_key(run_id).items()},
                            "UpdateExpression": f"SET {r_expr}",
                            "ConditionExpression": "#st IN (:q, :e)",
                            "ExpressionAttributeNames": {**r_names, "#st": "status"},
                            "ExpressionAttributeValues": {
                                **{k: serialize(v) for k, v in r_values.items()},
                                ":q": {"S": "QUEUED"},
                                ":e": {"S": "EXECUTING"},
                            },
                        }
                    },
                ]
            )
        except ClientError as error:
            if _code(error) == "ValidationException" and "size" in str(error).lower():
                raise ItemTooLarge() from None  # moto says it this way
            if _code(error) != "TransactionCanceledException":
                raise
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            if "ValidationError" in reasons:
                raise ItemTooLarge() from None  # AWS: a transaction over the item size limit
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                raise RunAlreadyFinished() from None
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise ClaimLost() from None
            raise

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

    def _lead_pages(self, run_id: str, **query: Any):
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(f"R#{run_id}") & Key("sk").begins_with(LEAD_PREFIX),
            "ConsistentRead": True,
            **query,
        }
        while True:
            page = self._table.query(**kwargs)
            yield page
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # ------------------------------------------------------- LLM concurrency
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

    def release_llm_slot(self, workspace_id: str, lease_id: str) -> None:
        self._table.update_item(
            Key={"pk": f"W#{workspace_id}", "sk": "LLM_LEASES"},
            UpdateExpression="REMOVE leases.#lease",
            ExpressionAttributeNames={"#lease": lease_id},
        )

    # ---------------------------------------------------------------- API keys
    def put_api_key(self, key_hash: str, workspace_id: str, created_at: str) -> None:
        self._table.put_item(
            Item={
                "pk": f"K#{key_hash}",
                "sk": "APIKEY",
                "key_hash": key_hash,
                "workspace_id": workspace_id,
                "created_at": created_at,
            }
        )

    def workspace_for_key(self, key_hash: str) -> str | None:
        cached = self._key_cache.get(key_hash)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        workspace = self._lookup_key(key_hash)
        if workspace is not None:  # unknown keys are not cached: a new key works at once
            self._key_cache[key_hash] = (workspace, time.monotonic() + KEY_CACHE_S)
        return workspace

    def _lookup_key(self, key_hash: str) -> str | None:
        item = self._table.get_item(Key={"pk": f"K#{key_hash}", "sk": "APIKEY"}).get("Item")
        # Compared in constant time, so timing says nothing about how much of a guess matched.
        if not item or not hmac.compare_digest(str(item.get("key_hash", "")), key_hash):
            return None
        return str(item["workspace_id"])
