"""Telling outside systems that a run ended: "Run Completed" / "Run Failed" on the service's bus, and the
run's webhook delivery queued.

Called only by the writer whose conditional finish of the run succeeded (the
aggregate, the chat turn, or the failure path), so each run is announced once.
An announcement that cannot be sent is logged, never allowed to undo the run.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger

from outreach import SERVICE_NAME, runtime
from outreach.config import settings
from outreach.dal.base import RunSessionStore
from outreach.logic.runs import run_view
from outreach.logic.webhooks import delivery_message
from outreach.models.events import RUN_COMPLETED, RUN_FAILED, SERVICE_SOURCE
from outreach.models.items import RunItem

logger = Logger(service=SERVICE_NAME, child=True)


def run_event_detail(run: RunItem, view: dict[str, Any]) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "session_id": run.session_id,
        "workspace_id": run.workspace_id,
        "kind": run.kind,
        "status": view["status"],
        "progress": view["progress"],
    }


def announce_run_end(store: RunSessionStore, run_id: str) -> None:
    try:
        run = store.get_run(run_id)
        if run is None:
            return
        view = run_view(store, run)
        s = settings()
        if s.event_bus_name:
            entry = {
                "Source": SERVICE_SOURCE,
                "DetailType": RUN_COMPLETED if view["status"] == "COMPLETED" else RUN_FAILED,
                "EventBusName": s.event_bus_name,
                "Resources": [],
                "Detail": json.dumps(run_event_detail(run, view)),
            }
            answer = runtime.eventbridge().put_events(Entries=[entry])
            if answer.get("FailedEntryCount"):
                logger.error("the run event was refused", extra={"run_id": run_id, "entries": answer.get("Entries")})
        if run.webhook is not None and s.webhook_queue_url:
            runtime.sqs().send_message(QueueUrl=s.webhook_queue_url, MessageBody=json.dumps(delivery_message(run)))
    except Exception:  # the run is finished either way; the event is what is lost, and the log says so
        logger.exception("could not announce the end of the run", extra={"run_id": run_id})
