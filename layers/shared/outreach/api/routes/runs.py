"""Runs: read (and wait for changes) with the run's own token, the dispatch's publicAccessToken; cancel with the
workspace's API key."""

from __future__ import annotations

import re
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from outreach import runtime
from outreach.api.documentation import API_KEY, RUN_TOKEN, RUNS, responses
from outreach.api.errors import answer
from outreach.config import settings
from outreach.errors import NotFound
from outreach.logic import cancel, progress
from outreach.logic.auth import bearer, check_run_token, service_secret
from outreach.models.responses import RUN_ID_PATTERN, Run

router = APIGatewayHttpRouter()
RunId = Annotated[str, Path(max_length=64, description="The dispatch's runId: run_<24 hex>.")]


@router.get(
    f"{RUNS}/<run_id>",
    summary="Read a run, or wait for it to change",
    description=(
        "Status, progress and token usage of a run; a generate run lists the examples finished so far. `version` "
        "grows with every change (a lead finished, a status change) and never goes back.\n\n"
        "**Live progress.** With `after=<version>` and `wait=<seconds>` (at most 20), the call answers as soon as "
        "the run's version passes `after`, or after `wait` seconds with the run unchanged (then `version` is still "
        "<= `after`: call again). A finished run answers at once. Without `after` the answer is immediate. A watch "
        "loop: read the run, then call again with `after` = the version you hold, until the status is final "
        "(COMPLETED, FAILED or CANCELED)."
    ),
    operation_id="getRun",
    tags=["runs"],
    security=[{RUN_TOKEN: []}],
    responses=responses(
        200,
        Run,
        "The run.",
        {
            400: "The run id is over 64 characters (validation_error).",
            401: "No token, or an invalid or expired one (unauthorized, invalid_token, token_expired).",
            403: "The token reads another run (token_scope).",
            404: "No run with that id (run_not_found).",
            422: "`wait` is not a number from 0 to 20, or `after` not a whole number >= 0 (validation_error).",
        },
    ),
)
def get_run(
    run_id: RunId,
    wait: Annotated[
        float,
        Query(ge=0, le=progress.MAX_WAIT_S, description="Seconds to wait for a change past `after` (0 to 20)."),
    ] = 0,
    after: Annotated[
        int | None,
        Query(ge=0, le=2**53, description="The version the caller holds: answer once the run's version passes it."),
    ] = None,
) -> Response[Run]:
    check_run_token(service_secret(settings()), bearer(router.current_event.headers), run_id)
    store = runtime.store()
    run = store.get_run(run_id) if re.match(RUN_ID_PATTERN, run_id) else None
    if run is None:
        raise NotFound("No run with that id.", code="run_not_found")
    return answer(200, progress.wait_for_change(store, run, after=after, wait_s=wait))


@router.post(
    f"{RUNS}/<run_id>/cancel",
    summary="Cancel a run",
    description=(
        "Stops the run's execution, marks it CANCELED and frees its session at once (task_status null): the "
        "session keeps exactly the messages and examples it had before the run; results of the run's leads that "
        "were still being written are dropped. Answers the run as GET /api/runs/{run_id} shows it."
    ),
    operation_id="cancelRun",
    tags=["runs"],
    security=[{API_KEY: []}],
    responses=responses(
        200,
        Run,
        "The canceled run.",
        {
            400: "The run id is over 64 characters (validation_error).",
            401: "No `Authorization: Bearer <api key>`, or an unknown key (unauthorized).",
            404: "No run with that id in the caller's workspace (run_not_found).",
            409: "The run already finished (run_finished; `status` says how): nothing to cancel.",
        },
    ),
)
def cancel_run(run_id: RunId) -> Response[Run]:
    workspace = router.context["workspace_id"]
    if not re.match(RUN_ID_PATTERN, run_id):
        raise cancel.RunNotFound()
    view = cancel.cancel_run(runtime.store(), runtime.stepfunctions(), settings(), workspace, run_id)
    return answer(200, view)
