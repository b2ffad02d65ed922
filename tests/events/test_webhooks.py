"""Signed webhooks: a receiver on 127.0.0.1 gets each run's end once, signed per Standard Webhooks."""

from __future__ import annotations

import contextlib
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks import Webhook

from local import admin
from tests.events.test_events_in import LEADS, put_request, wait_until


class Receiver:
    """A webhook endpoint: records every delivery; answers with the statuses queued in ``answers``, then 204."""

    def __init__(self):
        self.deliveries: list[dict] = []
        self.answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.deliveries.append({"headers": dict(self.headers.items()), "body": body, "path": self.path})
                status = receiver.answers.pop(0) if receiver.answers else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/outreach"

    def for_run(self, run_id: str) -> list[dict]:
        return [d for d in self.deliveries if json.loads(d["body"])["data"]["id"] == run_id]


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def signing_secret(stack, workspace: str = "ws_a") -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert admin.main(["webhook-secret", "--workspace", workspace, "--state-dir", str(stack.state_dir)]) == 0
    return out.getvalue().strip()


def verified(stack, delivery: dict) -> dict:
    return Webhook(signing_secret(stack)).verify(delivery["body"], delivery["headers"])


def test_a_run_is_posted_once_signed_and_the_signature_verifies(api, stack, receiver):
    session = api.session_with_framework()
    answer = api.generate(session["id"], LEADS, webhook={"url": receiver.url})
    assert answer.status == 200, answer.body
    run_id = answer.body["runId"]
    (delivery,) = wait_until(lambda: receiver.for_run(run_id), what="the webhook")
    payload = verified(stack, delivery)
    assert payload["type"] == "run.completed" and payload["timestamp"].endswith("Z")
    assert payload["data"]["id"] == run_id and payload["data"]["status"] == "COMPLETED"
    assert [e["lead"]["first_name"] for e in payload["data"]["examples"]] == ["Ada", "Grace"]
    assert delivery["headers"]["webhook-id"] == f"msg_{run_id}" and delivery["path"] == "/hooks/outreach"
    # Another workspace's secret does not verify it.
    with pytest.raises(Exception, match="signature"):
        Webhook(signing_secret(stack, "ws_b")).verify(delivery["body"], delivery["headers"])
    # The run's steps running again deliver nothing more.
    stack.invoke("AggregateFunction", {"run_id": run_id})
    api.wait_idle(session["id"])
    assert len(receiver.for_run(run_id)) == 1


def test_each_run_gets_exactly_one_delivery(api, stack, receiver):
    session = api.session_with_framework()
    runs = []
    for lead in LEADS:
        runs.append(api.generate(session["id"], [lead], webhook={"url": receiver.url}).body["runId"])
        api.wait_idle(session["id"])
    wait_until(lambda: all(receiver.for_run(r) for r in runs), what="a delivery per run")
    assert sorted(json.loads(d["body"])["data"]["id"] for d in receiver.deliveries) == sorted(runs)


def test_a_chat_turn_and_a_failed_run_are_posted_too(api, stack, receiver):
    session = api.create_session()
    turn = api.turn(session["id"], webhook={"url": receiver.url}).body["runId"]
    (delivery,) = wait_until(lambda: receiver.for_run(turn), what="the turn's webhook")
    assert verified(stack, delivery)["type"] == "run.completed"

    def crash_aggregate(function, event):
        if function == "AggregateFunction":
            raise RuntimeError("injected: the aggregate crashed")

    api.wait_idle(session["id"])
    stack.before_invoke = crash_aggregate
    failed = api.generate(session["id"], LEADS, webhook={"url": receiver.url}).body["runId"]
    (delivery,) = wait_until(lambda: receiver.for_run(failed), what="the failed run's webhook")
    payload = verified(stack, delivery)
    assert payload["type"] == "run.failed" and payload["data"]["status"] == "FAILED"


def test_a_refused_delivery_is_retried_under_the_same_webhook_id(api, stack, receiver):
    receiver.answers = [503]
    session = api.session_with_framework()
    run_id = api.generate(session["id"], LEADS[:1], webhook={"url": receiver.url}).body["runId"]
    first, second = wait_until(lambda: receiver.for_run(run_id)[1:] and receiver.for_run(run_id), what="a retry")
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"] == f"msg_{run_id}"
    assert first["body"] == second["body"] and verified(stack, second)["data"]["id"] == run_id


def test_a_top_up_requested_by_event_posts_its_webhook(api, stack, receiver):
    session = api.session_with_framework()
    put_request(stack, {"workspace_id": "ws_a", "session_id": session["id"], "leads": LEADS[:1],
                        "webhook": {"url": receiver.url}})
    wait_until(lambda: receiver.deliveries, what="the requested run's webhook")
    assert verified(stack, receiver.deliveries[0])["data"]["session_id"] == session["id"]


@pytest.mark.parametrize("url", ["https://10.0.0.1/hook", "https://169.254.169.254/latest/meta-data/",
                                 "http://93.184.216.34/hook", "https://192.168.0.1/", "ftp://127.0.0.1/"])
def test_a_refused_url_is_422_and_leaves_the_session_free(api, url):
    session = api.session_with_framework()
    for answer in (api.generate(session["id"], LEADS, webhook={"url": url}),
                   api.turn(session["id"], webhook={"url": url})):
        assert answer.status == 422, answer.body
        assert answer.body["code"] == "invalid_webhook_url"
    body = api.session(session["id"]).body
    assert body["task_status"] is None and body["generated_examples"] == []


def test_a_canceled_run_is_posted_once_as_failed_with_its_status(api, stack, receiver):
    session = api.session_with_framework()
    hold = threading.Event()

    def hold_leads(function, event):
        if function == "GenerateLeadFunction":
            hold.wait(30)

    stack.before_invoke = hold_leads
    try:
        run_id = api.generate(session["id"], LEADS, webhook={"url": receiver.url}).body["runId"]
        canceled = api.call("POST", f"/api/runs/{run_id}/cancel")
        assert canceled.status == 200 and canceled.body["status"] == "CANCELED", canceled.body
    finally:
        hold.set()
    (delivery,) = wait_until(lambda: receiver.for_run(run_id), what="the canceled run's webhook")
    payload = verified(stack, delivery)
    assert payload["type"] == "run.failed" and payload["data"]["status"] == "CANCELED"
    api.wait_idle(session["id"])
    assert len(receiver.for_run(run_id)) == 1  # the execution's own end (aborted) announces nothing more
