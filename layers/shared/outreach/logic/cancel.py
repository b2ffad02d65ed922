"""Canceling a run: stop it, mark it CANCELED, free its session at once, change none of the session's results.

The run's status is the commit point: one conditional write moves it from QUEUED or EXECUTING to CANCELED, so a
cancel and a run finishing on its own cannot both win. Everything that could still write afterwards is conditional
on the run: the aggregate and the chat turn finish only a run still QUEUED or EXECUTING (and only while it holds
the claim), the release path fails only such a run and frees only its own claim, and a lead's result is written
only over a pending lead, which the cancel closes. So a late worker of a canceled run changes nothing.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from outreach import SERVICE_NAME
from outreach.clock import now_iso
from outreach.config import Settings
from outreach.dal.base import FINAL_STATUSES, RunSessionStore
from outreach.errors import Conflict, NotFound
from outreach.logic.run_events import announce_run_end
from outreach.logic.runs import GENERATE, run_view
from outreach.models.items import RunItem

logger = Logger(service=SERVICE_NAME, child=True)
CANCELED_MESSAGE = "The run was canceled."


class RunNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("No run with that id in this workspace.", code="run_not_found")


class RunFinished(Conflict):
    def __init__(self, status: str) -> None:
        super().__init__(f"The run already finished ({status}): there is nothing to cancel.", code="run_finished")
        self.run_status = status

    def body(self) -> dict[str, Any]:
        return {**super().body(), "status": self.run_status}


def execution_arn(state_machine_arn: str, run_id: str) -> str:
    """A run's execution is named after the run: arn:...:stateMachine:<name> -> arn:...:execution:<name>:<run id>."""
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{run_id}"


def cancel_run(store: RunSessionStore, sfn, settings: Settings, workspace_id: str, run_id: str) -> dict[str, Any]:
    run = store.get_run(run_id)
    if run is None or run.workspace_id != workspace_id:
        raise RunNotFound()
    if run.status in FINAL_STATUSES:
        raise RunFinished(run.status)
    now = now_iso()
    if not store.cancel_run(run_id, {"finished_at": now, "error": CANCELED_MESSAGE}):
        finished = store.get_run(run_id) or run
        raise RunFinished(finished.status)
    # From here the run is CANCELED for good; the rest only makes that take effect at once.
    released = store.release_claim(run.session_id, run_id)
    _stop_execution(sfn, settings, run)
    closed = store.cancel_pending_leads(run_id, now) if run.kind == GENERATE else 0
    logger.info("run canceled", extra={"run_id": run_id, "released": released, "leads_closed": closed})
    announce_run_end(store, run_id)  # ended without its results: "Run Failed" / run.failed, status CANCELED
    return run_view(store, store.get_run(run_id) or run)


def _stop_execution(sfn, settings: Settings, run: RunItem) -> None:
    machine = settings.generate_state_machine_arn if run.kind == GENERATE else settings.chat_state_machine_arn
    try:
        sfn.stop_execution(
            executionArn=execution_arn(machine, run.id), error="Canceled", cause="Canceled through the API."
        )
    except Exception as error:  # noqa: BLE001 - the run is CANCELED whatever happens here
        # Already ended, or Step Functions unreachable: the run's status already stops every worker still to come.
        code = error.response["Error"].get("Code") if isinstance(error, ClientError) else type(error).__name__
        logger.warning("could not stop the execution", extra={"run_id": run.id, "code": code})
