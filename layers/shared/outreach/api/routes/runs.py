"""Runs, read with the run's own token (the dispatch's publicAccessToken), not an API key."""

from __future__ import annotations

import re
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from outreach import runtime
from outreach.api.documentation import RUN_TOKEN, RUNS, responses
from outreach.api.errors import answer
from outreach.config import settings
from outreach.errors import NotFound
from outreach.logic import runs
from outreach.logic.auth import bearer, check_run_token, service_secret
from outreach.models.responses import RUN_ID_PATTERN, Run

router = APIGatewayHttpRouter()


@router.get(
    f"{RUNS}/<run_id>",
    summary="Read a run",
    description="Status, progress and token usage of a run; a generate run lists the examples finished so far.",
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
        },
    ),
)
def get_run(
    run_id: Annotated[str, Path(max_length=64, description="The dispatch's runId: run_<24 hex>.")],
) -> Response[Run]:
    check_run_token(service_secret(settings()), bearer(router.current_event.headers), run_id)
    run = runtime.store().get_run(run_id) if re.match(RUN_ID_PATTERN, run_id) else None
    if run is None:
        raise NotFound("No run with that id.", code="run_not_found")
    return answer(200, runs.run_view(runtime.store(), run))
