"""The local stack applies DynamoDB's Time to Live, which moto does not: expired items are deleted, as on AWS.

Without it a `make serve` kept every run's records past RUN_RETENTION_DAYS, and every idempotency record past
its 24 hours, for as long as it ran, in memory and on disk.
"""

import time

import pytest

from local.stack import LocalStack
from outreach.clock import now_epoch
from outreach.config import SettingsError
from tests.integration.conftest import WS_A

DAY = 86400


def put(stack, key: str, **attrs) -> None:
    item = {"pk": {"S": f"TTL#{key}"}, "sk": {"S": "ITEM"}, **attrs}
    stack.client("dynamodb").put_item(TableName=stack.table_name, Item=item)


def exists(stack, key: str) -> bool:
    out = stack.client("dynamodb").get_item(TableName=stack.table_name, Key={"pk": {"S": f"TTL#{key}"},
                                                                            "sk": {"S": "ITEM"}}, ConsistentRead=True)
    return "Item" in out


def test_an_item_whose_ttl_has_passed_is_deleted_and_no_other(stack):
    now = int(time.time())
    put(stack, "expired", expires_at={"N": str(now - 10)})
    put(stack, "expires-later", expires_at={"N": str(now + 3600)})
    put(stack, "no-ttl")
    put(stack, "ttl-not-a-number", expires_at={"S": str(now - 10)})  # AWS: only a Number is an expiry
    put(stack, "older-than-five-years", expires_at={"N": str(now - 6 * 365 * DAY)})  # AWS ignores those too

    assert stack.ttl.sweep(now=now) == 1

    assert not exists(stack, "expired")
    assert [exists(stack, k) for k in ("expires-later", "no-ttl", "ttl-not-a-number", "older-than-five-years")] \
        == [True, True, True, True]
    assert stack.ttl.sweep(now=now) == 0  # nothing left to do
    assert stack.ttl.sweep(now=now + 3601) == 1  # its hour passed
    assert not exists(stack, "expires-later")


def test_a_run_past_its_retention_is_gone_and_its_session_and_examples_stay(stack, store, make_session,
                                                                             make_generate_run):
    session = make_session()
    eight_days_ago = now_epoch() - 8 * DAY  # RUN_RETENTION_DAYS is 7
    old_run = make_generate_run(session, [{"first_name": "Ann", "company": "Acme"}], now=eight_days_ago)
    recent = make_session()
    recent_run = make_generate_run(recent, [{"first_name": "Bo", "company": "Initech"}])
    assert store.get_run(old_run) is not None and len(store.get_run_leads(old_run)) == 1

    stack.ttl.sweep()

    assert store.get_run(old_run) is None and store.get_run_leads(old_run) == []  # its record and its leads
    assert store.get_session(WS_A, session.id) is not None
    assert store.get_run(recent_run) is not None and len(store.get_run_leads(recent_run)) == 1


@pytest.mark.parametrize("value", ["ten", "0", "-60", "inf"])
def test_a_sweep_interval_it_cannot_use_stops_the_stack_naming_the_variable(value):
    with pytest.raises(SettingsError, match="LOCAL_TTL_SWEEP_S"):
        LocalStack(env={"LOCAL_TTL_SWEEP_S": value})
