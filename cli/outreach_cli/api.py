"""The outreach HTTP API as the CLI calls it: one httpx client, errors as one exception type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

SESSIONS = "/api/campaigns/ai-chat-sessions"
LONG_POLL_S = 20  # the server's own cap, under API Gateway's 29 s


class ApiError(Exception):
    """The API answered an error (or could not be reached): ``status`` 0 means no answer."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{message} ({code}, HTTP {status})" if status else message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Dispatch:
    run_id: str
    token: str


class Api:
    def __init__(self, base_url: str, api_key: str | None, *, timeout_s: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self._http = httpx.Client(base_url=self.base_url, timeout=httpx.Timeout(timeout_s, read=LONG_POLL_S + 10))

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, *, token: str | None = None, json: Any = None,
              params: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> Any:
        bearer = token or self.api_key
        if not bearer:
            raise ApiError(0, "no_api_key", "No API key: set OUTREACH_API_KEY or pass --api-key.")
        all_headers = {"Authorization": f"Bearer {bearer}", **(headers or {})}
        try:
            answer = self._http.request(method, path, json=json, params=params, headers=all_headers)
        except httpx.HTTPError as error:
            raise ApiError(0, "unreachable", f"Could not reach {self.base_url}: {error}") from None
        try:
            body = answer.json()
        except ValueError:
            body = None
        if answer.status_code >= 400:
            body = body if isinstance(body, dict) else {}
            raise ApiError(answer.status_code, str(body.get("code", "http_error")),
                           str(body.get("error", answer.reason_phrase)))
        return body

    # ---------------------------------------------------------------- sessions
    def create_session(self, campaign_id: str, node_id: str, title: str | None) -> dict:
        body = {"campaign_id": campaign_id, "node_id": node_id, **({"title": title} if title else {})}
        return self._call("POST", SESSIONS, json=body)

    def _every_page(self, path: str, key: str, params: dict[str, Any], cursor: str | None = None) -> list[dict]:
        """The ``key`` entries of every page from ``cursor`` on (the first page without one), following
        ``next_cursor`` to the last."""
        entries: list[dict] = []
        while True:
            page = self._call("GET", path, params={**params, **({"cursor": cursor} if cursor else {})})
            entries += page.get(key, [])
            cursor = page.get("next_cursor")
            if not cursor:
                return entries

    def list_sessions(self, campaign_id: str, limit: int | None = None) -> list[dict]:
        """Every session of the campaign, following ``next_cursor`` when the server pages."""
        params: dict[str, Any] = {"campaign_id": campaign_id, **({"limit": limit} if limit else {})}
        return self._every_page(SESSIONS, "sessions", params)

    def get_session(self, session_id: str) -> dict:
        """The whole session: where its answer carries only the first messages or examples (a session past
        the 6 MB one answer may hold), the rest is read page by page."""
        session = self._call("GET", f"{SESSIONS}/{session_id}")
        for kind, path in (("messages", "messages"), ("generated_examples", "examples")):
            cursor = session.get(f"{kind}_next_cursor")
            if cursor:
                rest = self._every_page(f"{SESSIONS}/{session_id}/{path}", kind, {}, cursor)
                session[kind] = (session.get(kind) or []) + rest
                session[f"{kind}_next_cursor"] = None
        return session

    def delete_session(self, session_id: str) -> dict:
        return self._call("DELETE", f"{SESSIONS}/{session_id}")

    # ------------------------------------------------------------------- tasks
    def chat(self, session_id: str, message: str) -> Dispatch:
        out = self._call("POST", f"{SESSIONS}/{session_id}/turn", json={"message": message})
        return Dispatch(out["runId"], out["publicAccessToken"])

    def generate(self, session_id: str, leads: list[dict], *, first_batch: bool,
                 idempotency_key: str | None = None) -> Dispatch:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        out = self._call("POST", f"{SESSIONS}/{session_id}/generate-examples",
                         json={"leads": leads, "isFirstBatch": first_batch}, headers=headers)
        return Dispatch(out["runId"], out["publicAccessToken"])

    # -------------------------------------------------------------------- runs
    def get_run(self, run_id: str, token: str, *, after: int | None = None, wait_s: int = LONG_POLL_S) -> dict:
        """The run; with ``after``, the server answers once the run's version passes it (or after ``wait_s``)."""
        params = {"after": after, "wait": wait_s} if after is not None else None
        return self._call("GET", f"/api/runs/{run_id}", token=token, params=params)

    def cancel_run(self, run_id: str) -> dict:
        return self._call("POST", f"/api/runs/{run_id}/cancel")
