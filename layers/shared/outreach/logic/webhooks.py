"""Signed webhooks: when a run with a webhook ends, the service POSTs it there, per Standard Webhooks.

The run's end queues one delivery message (``webhook-id`` = ``msg_<run id>``);
the delivery function builds the payload from the finished run (the same bytes
on every try, as the timestamp is the run's finish), signs it with the
workspace's signing secret and POSTs it to an address it has just checked.
A failed try is retried from the queue with growing delay, then dead-lettered:
a receiver may see a delivery twice, under the same ``webhook-id``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import socket
import ssl
from datetime import UTC, datetime
from urllib.parse import urlsplit

from standardwebhooks import Webhook

from outreach.dal.base import SessionStore
from outreach.logic.runs import run_view
from outreach.logic.webhook_urls import InvalidWebhookUrl, resolve_webhook_url
from outreach.models.items import RunItem

DELIVERY_TIMEOUT_S = 10


class DeliveryFailed(Exception):
    """The receiver did not take the delivery (an error answer, a refused address, no connection): try again."""


def signing_secret(service_secret: bytes, workspace_id: str) -> str:
    """The workspace's webhook signing secret (``whsec_`` + base64), derived from the service secret: no other
    workspace's secret says anything about it, and rotating the service secret rotates them all."""
    key = hmac.new(service_secret, f"webhook-signing:{workspace_id}".encode(), hashlib.sha256).digest()
    return "whsec_" + base64.b64encode(key).decode()


def delivery_message(run: RunItem) -> dict[str, str]:
    return {"webhook_id": f"msg_{run.id}", "run_id": run.id}


def payload(store: SessionStore, run: RunItem) -> tuple[str, datetime]:
    view = run_view(store, run)
    finished = datetime.fromisoformat(run.finished_at or run.created_at)
    kind = "run.completed" if view["status"] == "COMPLETED" else "run.failed"
    body = {"type": kind, "timestamp": finished.astimezone(UTC).isoformat().replace("+00:00", "Z"), "data": view}
    return json.dumps(body, separators=(",", ":")), finished


def signed_headers(secret: str, webhook_id: str, timestamp: datetime, body: str) -> dict[str, str]:
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, timestamp, body),
        "content-type": "application/json",
        "user-agent": "outreach-webhooks",
    }


class _PinnedConnection(http.client.HTTPSConnection):
    """Connects to the address that was checked, not to whatever the name resolves to a moment later."""

    def __init__(self, host: str, port: int, address: str, *, tls: bool, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address, self._tls = address, tls

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host) if self._tls else sock


def post(url: str, body: str, headers: dict[str, str], *, allow_loopback: bool) -> int:
    """POST to the webhook after checking where it resolves now; the answer's status."""
    host, port, addresses = resolve_webhook_url(url, allow_loopback=allow_loopback)
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    error: Exception | None = None
    for address in addresses:
        connection = _PinnedConnection(host, port, address, tls=parts.scheme == "https", timeout=DELIVERY_TIMEOUT_S)
        try:
            connection.request("POST", target, body=body.encode(), headers=headers)
            response = connection.getresponse()
            response.read(64 * 1024)
            return response.status
        except (OSError, http.client.HTTPException) as exc:
            error = exc
        finally:
            connection.close()
    raise DeliveryFailed(f"could not reach the webhook: {type(error).__name__}")


def deliver(store: SessionStore, service_secret: bytes, message: dict[str, str], *, allow_loopback: bool) -> str:
    """One try of one delivery: 'delivered', 'gone' (the run expired), or DeliveryFailed to try again."""
    run = store.get_run(message["run_id"])
    if run is None or run.webhook is None:
        return "gone"
    body, _ = payload(store, run)
    # The body is the same on every try; the timestamp is this try's (receivers refuse stale ones).
    headers = signed_headers(
        signing_secret(service_secret, run.workspace_id), message["webhook_id"], datetime.now(UTC), body
    )
    try:
        status = post(run.webhook.url, body, headers, allow_loopback=allow_loopback)
    except InvalidWebhookUrl as error:
        raise DeliveryFailed(f"the webhook URL is refused now: {error.message}") from None
    if not 200 <= status < 300:
        raise DeliveryFailed(f"the webhook answered {status}")
    return "delivered"
