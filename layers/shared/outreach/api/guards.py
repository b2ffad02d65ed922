"""What happens to an API Gateway event before routing.

Hand-written rather than Powertools middleware: Powertools runs request validation before any user
middleware, and these answers must come first (a body over 1 MiB is refused unread; a session call
without a known API key is 401 whatever else is wrong with it).
"""

from __future__ import annotations

import base64
from typing import Any

from outreach import runtime
from outreach.api.documentation import MAX_BODY_BYTES, SESSIONS
from outreach.api.errors import invalid_json, json_response
from outreach.config import settings
from outreach.errors import ApiError, PayloadTooLarge, Unauthorized
from outreach.logic.auth import bearer, hash_api_key, service_secret


class Refused(Exception):
    """An answer given before routing."""

    def __init__(self, answer: dict[str, Any]):
        super().__init__(answer["statusCode"])
        self.answer = answer


def _as_proxy_answer(response) -> dict[str, Any]:
    return {
        "statusCode": response.status_code,
        "headers": {"Content-Type": "application/json"},
        "body": response.body,
        "isBase64Encoded": False,
    }


def workspace_of(event: dict[str, Any]) -> str | None:
    """413 for a body over 1 MiB; for session routes, the caller's workspace from its API key (else 401)."""
    body = event.get("body") or ""
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode())
    try:
        if size > MAX_BODY_BYTES:
            raise PayloadTooLarge("The request body is over 1 MiB. Send fewer or smaller leads.")
        path = event.get("rawPath") or ""
        if path != SESSIONS and not path.startswith(f"{SESSIONS}/"):
            return None
        token = bearer(event.get("headers") or {})
        workspace = runtime.store().workspace_for_key(hash_api_key(service_secret(settings()), token))
        if workspace is None:
            raise Unauthorized("Unknown API key.", code="unauthorized")
        return workspace
    except ApiError as error:
        raise Refused(_as_proxy_answer(json_response(error.status, error.body()))) from None


def as_json_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event with its body as text, read as JSON whatever its label (curl -d says form data).

    API Gateway base64-encodes bodies it takes for binary; one that is not UTF-8 cannot be JSON: 400 for the
    methods that read a body (Powertools would fail decoding it: 500).
    """
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    headers["content-type"] = "application/json"
    event = {**event, "headers": headers}
    method = ((event.get("requestContext") or {}).get("http") or {}).get("method", "").upper()
    if not (event.get("isBase64Encoded") and event.get("body")) or method not in ("POST", "PATCH", "PUT"):
        return event
    try:
        text = base64.b64decode(event["body"], validate=True).decode("utf-8")
    except ValueError:  # binascii.Error and UnicodeDecodeError both are
        raise Refused(_as_proxy_answer(invalid_json())) from None
    return {**event, "body": text, "isBase64Encoded": False}
