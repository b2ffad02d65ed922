"""The template's EventBridge rules on Step Functions execution status, emulated locally.

moto does not publish execution status changes. This watcher polls the state
machines' executions and, for each one that ended in a status some rule in
template.yaml matches, invokes that rule's target function with an event of
the shape EventBridge sends ("Step Functions Execution Status Change").
"""

from __future__ import annotations

import json
import uuid
from collections import deque
from datetime import UTC, datetime
from typing import Any

from local.cfn import resources_of_type
from local.periodic import Periodic

ENDED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


def execution_rules(template: dict, resolver) -> list[dict[str, Any]]:
    """(function, pattern) for every EventBridgeRule event on aws.states in the template."""
    rules = []
    for logical_id, resource in resources_of_type(template, "AWS::Serverless::Function").items():
        for event in (resource.get("Properties", {}).get("Events") or {}).values():
            if event.get("Type") != "EventBridgeRule":
                continue
            pattern = resolver.resolve(event["Properties"]["Pattern"])
            if "aws.states" in pattern.get("source", []):
                rules.append({"function": logical_id, "pattern": pattern})
    return rules


def _matches(pattern: dict, event: dict) -> bool:
    for key, expected in pattern.items():
        value = event.get(key)
        if isinstance(expected, dict):
            if not isinstance(value, dict) or not _matches(expected, value):
                return False
        elif value not in expected:
            return False
    return True


def status_change_event(execution: dict, status: str) -> dict:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": now,
        "region": "us-east-1",
        "resources": [execution["executionArn"]],
        "detail": {
            "executionArn": execution["executionArn"],
            "stateMachineArn": execution["stateMachineArn"],
            "name": execution["name"],
            "status": status,
            "startDate": int(execution["startDate"].timestamp() * 1000) if execution.get("startDate") else None,
            "stopDate": int(execution["stopDate"].timestamp() * 1000) if execution.get("stopDate") else None,
            "input": None,
            "output": None,
        },
    }


class ExecutionStatusWatcher:
    def __init__(self, stack, interval_s: float = 0.2):
        self.stack = stack
        self.rules = execution_rules(stack.template, stack.resolver)
        self.statuses = sorted({s for r in self.rules for s in r["pattern"].get("detail", {}).get("status", ENDED)})
        self.interval_s = interval_s
        self._seen: set[str] = set()
        self.delivered: deque[dict] = deque(maxlen=1000)  # the latest events delivered, for tests
        self._ticks = 0
        self._job = Periodic("eventbridge", self._tick, interval_s)

    def start(self) -> None:
        if self.rules:
            self._job.start()

    def stop(self) -> None:
        self._job.stop()

    def _tick(self) -> None:
        self.poll()
        self._ticks += 1
        if self._ticks % 25 == 0:
            self.forget_finished()

    def forget_finished(self, older_than_s: float = 60.0) -> None:
        """A long-running local stack must not grow without end: moto keeps every execution (with its history
        and environment), every worker thread it started, and every model object it ever built. Runs live in
        DynamoDB; drop what only moto holds: finished threads, and every execution that ended more than a
        minute ago (SUCCEEDED included), once the rules have seen it."""
        from moto.core.model_instances import reset_model_data
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends
        from moto.stepfunctions.parser.utils import TMP_THREADS

        reset_model_data()  # moto's registry of every instance, kept only for its server dashboard
        # Every execution and Map iteration appends its worker thread here, and nothing reads or clears it.
        TMP_THREADS[:] = [thread for thread in TMP_THREADS if thread.is_alive()]
        cutoff = datetime.now(UTC).timestamp() - older_than_s
        backend = stepfunctions_parser_backends["123456789012"]["us-east-1"]
        for machine in list(backend.state_machines):
            for execution in list(machine.executions):
                delivered_or_unwatched = execution.execution_arn in self._seen or execution.status not in self.statuses
                if execution.stop_date and execution.stop_date.timestamp() < cutoff and delivered_or_unwatched:
                    machine.executions.remove(execution)  # one by one: executions started meanwhile stay
                    self._seen.discard(execution.execution_arn)  # gone from moto: poll() cannot see it again

    def poll(self) -> None:
        # Read moto's execution objects in-process: ListExecutions would serialise every execution
        # (Distributed Map children included) five times a second.
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        backend = stepfunctions_parser_backends["123456789012"]["us-east-1"]
        watched = set(self.stack.state_machines.values())
        for machine in list(backend.state_machines):
            if machine.arn not in watched:
                continue
            for execution in list(machine.executions):
                if execution.status not in self.statuses or execution.execution_arn in self._seen:
                    continue
                self._seen.add(execution.execution_arn)
                summary = {
                    "executionArn": execution.execution_arn,
                    "stateMachineArn": machine.arn,
                    "name": execution.name,
                    "startDate": execution.start_date,
                    "stopDate": execution.stop_date,
                }
                self.put_event(status_change_event(summary, execution.status))

    def put_event(self, event: dict) -> list[str]:
        """Deliver an event as the bus does: to the target of every rule whose pattern matches. Returns the targets."""
        targets = []
        for rule in self.rules:
            if _matches(rule["pattern"], event):
                self.delivered.append(json.loads(json.dumps(event, default=str)))
                self.stack.invoke(rule["function"], event)
                targets.append(rule["function"])
        return targets
