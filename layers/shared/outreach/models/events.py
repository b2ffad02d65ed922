"""Events on the service's bus: what clients put (a top-up request) and what the service puts (rejections, run ends)."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from outreach.models.requests import GenerateExamplesRequest
from outreach.models.text import SESSION_ID_PATTERN, Identifier

CLIENT_SOURCE = "outreach.client"  # what outside systems put
SERVICE_SOURCE = "outreach"  # what the service puts
GENERATE_REQUESTED = "Generate Examples Requested"
GENERATE_REJECTED = "Generate Examples Rejected"
RUN_COMPLETED = "Run Completed"
RUN_FAILED = "Run Failed"


class GenerateExamplesRequested(GenerateExamplesRequest):
    """The detail of "Generate Examples Requested": the HTTP body, plus the workspace the event acts for and
    the session. Whoever may put events on the bus may act for any workspace of the service (see README)."""

    workspace_id: Identifier
    session_id: Annotated[str, StringConstraints(pattern=SESSION_ID_PATTERN)]
