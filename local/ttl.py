"""DynamoDB's Time to Live, which moto does not apply: expired items are deleted, as AWS deletes them.

On AWS, once the epoch second in an item's TTL attribute (template.yaml's TimeToLiveSpecification) has passed,
DynamoDB deletes the item in the background, typically within two days, and reads see it until then. moto
never deletes it, so a `make serve` used for weeks kept every run's records past RUN_RETENTION_DAYS and every
idempotency record past its 24 hours, in memory as well as in SQLite: it grew for as long as it ran.

Here a sweep every ``interval_s`` (LOCAL_TTL_SWEEP_S, default 10 minutes; the first a minute after start) finds
the items whose TTL attribute is a Number below now, reading moto's table in place (no Scan: moto's Scan walks
the whole table for every page; cold items are read from their text, not made live), and deletes each with a
DeleteItem through the same path as any other write (lock, SQLite, index maps), on the condition that it is
still expired: an item whose TTL attribute was moved meanwhile stays. As on AWS, a value that is not a Number,
or that lies more than five years in the past, is not an expiry.
"""

from __future__ import annotations

import logging
import time

from local import cold_items
from local.dynamodb_writes import holding_the_table
from local.periodic import Periodic

logger = logging.getLogger(__name__)

FIVE_YEARS_S = 5 * 365 * 86400
DELETES_PER_SWEEP = 2000  # AWS deletes in the background too: a sweep leaves the rest to the next one


def sweep_interval_s(env: dict[str, str]) -> float:
    """LOCAL_TTL_SWEEP_S (default 600), checked before the stack starts."""
    raw = env.get("LOCAL_TTL_SWEEP_S") or "600"
    try:
        interval = float(raw)
    except ValueError:
        interval = 0.0
    if not 0 < interval < float("inf"):
        from outreach.config import SettingsError

        raise SettingsError("LOCAL_TTL_SWEEP_S must be a number of seconds above 0.")
    return interval


class TimeToLive:
    def __init__(self, stack, interval_s: float = 600.0, first_after_s: float = 60.0):
        self.stack = stack
        self._job = Periodic("dynamodb-ttl", self._sweep_logged, interval_s, first_after_s)

    def start(self) -> None:
        self._job.start()

    def stop(self) -> None:
        self._job.stop()

    def _sweep_logged(self) -> None:
        try:
            self.sweep()
        except Exception:  # a sweep that fails is tried again at the next one
            logger.exception("TTL sweep failed")

    def sweep(self, now: float | None = None) -> int:
        """Delete what has expired at ``now`` (default: the clock), at most DELETES_PER_SWEEP items; their number."""
        client = self.stack.client("dynamodb")
        table_name = self.stack.table_name
        setting = client.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
        if setting.get("TimeToLiveStatus") != "ENABLED":
            return 0
        attribute = setting["AttributeName"]
        now_s = int(time.time() if now is None else now)
        from moto.dynamodb.models import dynamodb_backends

        from local.stack import ACCOUNT, REGION

        table = dynamodb_backends[ACCOUNT][REGION].get_table(table_name)
        deleted = 0
        for key in expired_keys(table, attribute, now_s)[:DELETES_PER_SWEEP]:
            try:
                client.delete_item(
                    TableName=table_name, Key=key, ConditionExpression="#ttl < :now AND #ttl >= :oldest",
                    ExpressionAttributeNames={"#ttl": attribute},
                    ExpressionAttributeValues={":now": {"N": str(now_s)}, ":oldest": {"N": str(now_s - FIVE_YEARS_S)}},
                )
            except client.exceptions.ConditionalCheckFailedException:
                continue  # written again since it was read: no longer expired
            deleted += 1
        return deleted


def expired_keys(table, attribute: str, now_s: int) -> list[dict]:
    """The keys (DynamoDB JSON) of the moto table's items whose ``attribute`` is a Number in [now - 5 years, now)."""
    with holding_the_table():  # only to list them (~10 ms at 30,000): a write halfway through changes the dicts
        items = cold_items.each_item(table)
    found = []
    for hash_key, range_key, held in items:  # read outside the lock: requests go on meanwhile
        value = cold_items.attributes(held, (attribute,)).get(attribute)
        if value is None or value.type != "N":
            continue
        try:
            expires = float(value.value)
        except ValueError:
            continue
        if now_s - FIVE_YEARS_S <= expires < now_s:
            key = {table.hash_key_attr: hash_key.to_json()}
            if table.range_key_attr:
                key[table.range_key_attr] = range_key.to_json()
            found.append(key)
    return found
