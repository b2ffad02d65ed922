"""A small HTTP client for the service, as a user of the API would use it."""

from __future__ import annotations

import http.client
import json
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tests.waiting import wait_until

SESSIONS = "/api/campaigns/ai-chat-sessions"


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


class ApiClient:
    """Keeps one HTTP/1.1 connection per thread, as SDK clients do, and reconnects when it was closed."""

    def __init__(self, base_url: str, api_key: str | None):
        self.base_url = base_url
        self.api_key = api_key
        url = urlsplit(base_url)
        self._host, self._port = url.hostname, url.port or 80
        self._local = threading.local()

    def _connection(self, fresh: bool = False) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None or fresh:
            if conn is not None:
                conn.close()
            conn = self._local.conn = http.client.HTTPConnection(self._host, self._port, timeout=60)
        return conn

    def call(self, method: str, path: str, body: Any = None, *, token: str | None = None, raw: bytes | None = None,
             headers: dict[str, str] | None = None) -> Answer:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        all_headers = {"Content-Type": "application/json"}
        bearer = token or self.api_key
        if bearer:
            all_headers["Authorization"] = f"Bearer {bearer}"
        all_headers.update(headers or {})
        for attempt in range(2):
            conn = self._connection(fresh=attempt > 0)
            try:
                conn.request(method, path, body=data, headers=all_headers)
                response = conn.getresponse()
                payload = response.read()
            except (ConnectionError, http.client.HTTPException, OSError):
                if attempt:
                    raise
                continue
            if response.getheader("Connection", "").lower() == "close":
                self._connection(fresh=True)
            return Answer(response.status, _parse(payload), dict(response.getheaders()))
        raise AssertionError("unreachable")

    # conveniences ---------------------------------------------------------
    def create_session(self, campaign_id: str = "cmp_1", node_id: str = "node_1", title: str | None = "t") -> dict:
        answer = self.call("POST", SESSIONS, {"campaign_id": campaign_id, "node_id": node_id, "title": title})
        assert answer.status == 201, answer.body
        return answer.body

    def session(self, session_id: str) -> Answer:
        return self.call("GET", f"{SESSIONS}/{session_id}")

    def wait_idle(self, session_id: str, timeout_s: float = 60) -> dict:
        def idle() -> dict | None:
            answer = self.session(session_id)
            assert answer.status == 200, answer.body
            return answer.body if answer.body["task_status"] is None else None

        return wait_until(idle, timeout_s, f"session {session_id} to be free")

    def turn(self, session_id: str, message: str = "We sell AI meeting notes to sales teams.", **extra: Any) -> Answer:
        return self.call("POST", f"{SESSIONS}/{session_id}/turn", {"message": message, **extra})

    def generate(self, session_id: str, leads: list[dict], **extra: Any) -> Answer:
        return self.call("POST", f"{SESSIONS}/{session_id}/generate-examples", {"leads": leads, **extra})

    def session_with_framework(self, **kwargs: Any) -> dict:
        session = self.create_session(**kwargs)
        answer = self.turn(session["id"])
        assert answer.status == 200, answer.body
        done = self.wait_idle(session["id"])
        assert done["skeleton"], done
        return done


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except json.JSONDecodeError:
        return raw.decode(errors="replace")
