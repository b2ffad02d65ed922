"""Routes return their response models, so Powertools validates every answer; an answer built from data the
service stored that no longer fits its model is still served unchanged (and the drift is logged), never an error."""

from __future__ import annotations

import io
import json
import logging

import pytest

from tests.client import SESSIONS

LEGACY_SKELETON = {"goal": "Book a call", "tone": "warm"}  # as an older version might have stored it


@pytest.fixture
def service_log():
    service = logging.getLogger("outreach")
    buffer, handler = io.StringIO(), logging.StreamHandler()
    handler.stream = buffer
    handler.setFormatter(service.handlers[0].formatter)  # the service's JSON formatter: extra keys included
    service.addHandler(handler)
    yield buffer
    service.removeHandler(handler)


def drifts(log: io.StringIO) -> list[dict]:
    lines = [json.loads(line) for line in log.getvalue().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("message") == "answer failed response validation; sent unvalidated"]


def store_on_the_session_item(stack, session_id: str, **fields) -> None:
    """Write fields onto the stored session, as another version of the service might have written them."""
    names = {f"#f{i}": name for i, name in enumerate(fields)}
    values = {f":v{i}": value for i, value in enumerate(fields.values())}
    stack.client("dynamodb").update_item(
        TableName=stack.table_name,
        Key={"pk": {"S": f"S#{session_id}"}, "sk": {"S": "SESSION"}},
        UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def summary_of(session: dict) -> dict:
    """A session as a list shows it: without its lists, with their counts."""
    lists = ("messages", "generated_examples", "skeleton_history", "draft_history", "messages_next_cursor",
             "generated_examples_next_cursor")
    return {**{k: v for k, v in session.items() if k not in lists},
            "message_count": len(session["messages"]), "example_count": len(session["generated_examples"])}


def test_good_answers_pass_validation_unchanged(api, service_log):
    created = api.create_session(campaign_id="cmp_valid")
    assert api.session(created["id"]).body == created
    listed = api.call("GET", f"{SESSIONS}?campaign_id=cmp_valid")
    assert listed.status == 200 and listed.body == {"sessions": [summary_of(created)], "next_cursor": None}
    assert drifts(service_log) == []


def test_a_stored_session_off_its_model_is_served_unchanged_and_logged(api, stack, service_log):
    created = api.create_session(campaign_id="cmp_drift")
    store_on_the_session_item(
        stack, created["id"],
        skeleton={"M": {k: {"S": v} for k, v in LEGACY_SKELETON.items()}},
        legacy_note={"S": "kept as stored"},
    )
    read = api.session(created["id"])
    assert read.status == 200, read.body
    assert read.body["skeleton"] == LEGACY_SKELETON and read.body["legacy_note"] == "kept as stored"
    assert {k: v for k, v in read.body.items() if k != "legacy_note"} == {**created, "skeleton": LEGACY_SKELETON}

    listed = api.call("GET", f"{SESSIONS}?campaign_id=cmp_drift")
    assert listed.status == 200 and listed.body["sessions"] == [summary_of(read.body)]
    patched = api.call("PATCH", f"{SESSIONS}/{created['id']}", {"title": "still served"})
    assert patched.status == 200 and patched.body["title"] == "still served"
    assert patched.body["skeleton"] == LEGACY_SKELETON

    logged = drifts(service_log)
    assert len(logged) == 3, "each answer was validated, and each drift logged"
    assert {"loc": ["response", "skeleton", "audience"], "type": "missing"} in logged[0]["drift"]
    assert "kept as stored" not in service_log.getvalue() and "Book a call" not in service_log.getvalue()
