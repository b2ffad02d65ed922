"""Loaded by the schemathesis CLI (SCHEMATHESIS_HOOKS) in tests/e2e/test_schemathesis.py: how a client authenticates,
and the one state-dependent answer a schema cannot describe.

- Session routes take the workspace's API key (OUTREACH_API_KEY). `GET /api/runs/{run_id}` takes the run's own
  token: the one a dispatch answered for that run id, when schemathesis reached it through a link; otherwise the
  API key (a documented 401).
- Positive data is checked by schemathesis' own positive_data_acceptance, except two refusals that depend on state,
  not on the request's shape: `400 no_framework` (generate-examples before any chat turn; the contract says 400, like
  409 session_busy it is the session's state) and `422 invalid_webhook_url` for a URL of the documented shape that
  resolves to a private address or is plain http where loopback is not allowed (DNS and settings, not schema), and
  `422 idempotency_key_reused` (schemathesis sends one Idempotency-Key value with many bodies: history, not shape),
  and `400 invalid_cursor` (a list cursor is valid only if this list gave it out: history, not shape).
"""

from __future__ import annotations

import os

import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance

RUN_PATH = "/api/runs/{run_id}"
DISPATCH_PATHS = ("/turn", "/generate-examples")
RUN_TOKENS: dict[str, str] = {}
STATE_DEPENDENT_REFUSALS = {
    (400, "no_framework"), (422, "invalid_webhook_url"), (422, "idempotency_key_reused"), (400, "invalid_cursor"),
}


@schemathesis.auth(refresh_interval=None, retry_on=[])
class WorkspaceKeyOrRunToken:
    def get(self, case, context):
        if case.operation.path == RUN_PATH:
            token = RUN_TOKENS.get(str((case.path_parameters or {}).get("run_id")))
            if token:
                return token
        return os.environ["OUTREACH_API_KEY"]

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schemathesis.hook
def after_call(context, case, response):
    """Remember each run's token, so a later call on that run (a stateful link) can read it."""
    if case.operation.path.endswith(DISPATCH_PATHS) and response.status_code == 200:
        body = response.json()
        RUN_TOKENS[body["runId"]] = body["publicAccessToken"]


def _code(response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


@schemathesis.check
def positive_data_acceptance_in_any_state(ctx, response, case):
    """positive_data_acceptance, except the state-dependent refusals above."""
    if (response.status_code, _code(response)) in STATE_DEPENDENT_REFUSALS:
        return None
    return positive_data_acceptance(ctx, response, case)
