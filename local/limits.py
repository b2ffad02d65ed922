"""AWS's hard limits, enforced by the local stack so tests see what AWS does.

moto executes the real ASL but applies none of Lambda's or Express's limits, and lets ``States.ALL`` catch
an error AWS makes terminal. Here:

- **A function's Timeout** (template.yaml): the handler runs on a worker thread; past its timeout the invoke
  fails with errorType ``Sandbox.Timedout``, as Lambda reports it to a ``lambda:invoke`` task.
- **Lambda's 6 MB response**: a larger result fails with ``Function.ResponseSizeTooLarge`` (the API's too).
- **The Express child's 5 minutes**: moto runs the Distributed Map's children as Standard workflows; a child
  past the limit ends as AWS ends it, failed as a whole: the state it was in is abandoned, its Catch never runs.
- **256 KB of state data**: moto raises ``States.DataLimitExceeded`` for larger task results and state
  outputs; here ``States.ALL`` no longer catches it (AWS: a terminal error, the execution fails), and
  StartExecution refuses a larger input (the API's length constraint).
- **DynamoDB's 400 KB item**: moto enforces it already.

``LOCAL_TIME_SCALE`` (default 1) multiplies the time limits, so tests can reach them in seconds (0.05: a
75 s function times out after 3.75 s). It does not scale the state machines' own Retry intervals.

A timed-out handler's thread is abandoned, not killed (Python cannot kill a thread): it runs to its end,
where Lambda would have stopped it. What its late writes can do is bounded by the domain, whose every write
is conditional on the run: a late lead result lands only while that lead is still pending in its own run
(write-once), so it never replaces a recorded failure nor touches another run; a late chat turn or aggregate
finds its claim released and changes nothing; a late lease release only frees a slot early (on AWS the
lease would expire instead).
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import json
from collections.abc import Callable
from typing import Any

from local.concurrency import forget_request
from local.handler_threads import HandlerThreads

# AWS quotas.
LAMBDA_RESPONSE_LIMIT_BYTES = 6_291_556  # what Lambda's error message names
STATE_PAYLOAD_LIMIT_BYTES = 256 * 1024
EXPRESS_CHILD_LIMIT_S = 300  # outreach.budgets uses the same figure for the budgets


class LambdaLimitError(Exception):
    """An invoke that Lambda ends itself; ``error_type`` is the errorType it reports."""

    error_type = "Lambda.Unknown"


class SandboxTimedOut(LambdaLimitError):
    error_type = "Sandbox.Timedout"


class ResponseTooLarge(LambdaLimitError):
    error_type = "Function.ResponseSizeTooLarge"


class Limits:
    def __init__(self, time_scale: float = 1.0):
        if time_scale <= 0:
            raise ValueError("LOCAL_TIME_SCALE must be a positive number")
        self.time_scale = time_scale
        self.timed_out: list[str] = []  # functions whose invokes timed out, in order (tests read it)

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Limits:
        return cls(float(env.get("LOCAL_TIME_SCALE") or 1))

    def seconds(self, limit_s: float) -> float:
        return limit_s * self.time_scale

    @property
    def express_child_s(self) -> float:
        return self.seconds(EXPRESS_CHILD_LIMIT_S)

    def invoke(self, function: str, timeout_s: float, request_id: str, call: Callable[[], Any]) -> Any:
        """Run a handler as Lambda would: at most its timeout, and an answer of at most 6 MB."""
        limit = self.seconds(timeout_s)
        context = contextvars.copy_context()  # the per-invoke environment lives in a context variable

        def run_once() -> Any:
            try:
                return context.run(call)
            finally:
                forget_request()

        running = _handlers.submit(run_once)
        try:
            result = running.result(timeout=limit)
        except concurrent.futures.TimeoutError:
            self.timed_out.append(function)
            raise SandboxTimedOut(f"RequestId: {request_id} Error: Task timed out after {limit:.2f} seconds") from None
        if len(json.dumps(result).encode()) > LAMBDA_RESPONSE_LIMIT_BYTES:
            raise ResponseTooLarge(
                f"Response payload size exceeded maximum allowed payload size ({LAMBDA_RESPONSE_LIMIT_BYTES} bytes)."
            )
        return result


# Reused threads, one per invoke in flight (local/handler_threads.py); a timed-out handler keeps its thread
# until it ends.
_handlers = HandlerThreads("lambda")


# The moto hooks below are process-wide; they read the limits of the stack started last.
_active = Limits()


def install(limits: Limits) -> None:
    global _active
    _active = limits
    _limit_express_children()
    _make_data_limit_terminal()
    _limit_execution_input()


def _limit_express_children() -> None:
    from moto.stepfunctions.parser.api import ExecutionFailedEventDetails
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
        distributed_item_processor_worker as worker,
    )
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramTimedOut

    cls = worker.DistributedItemProcessorWorker
    if getattr(cls, "_outreach_express_limit", False):
        return
    evaluate_job = cls._eval_job

    class ExpressLimit:
        """A child program's TimeoutSeconds, read when the child starts (Program.eval joins its body with it)."""

        @property
        def timeout_seconds(self) -> float:
            return _active.express_child_s

    class ExpressChild:
        """A child's program that AWS stops at the Express limit. moto's Program.eval abandons its body at its
        TimeoutSeconds and marks the run timed out, which the Map worker would count as a success: here the
        child fails as a whole. The abandoned body finds its environment no longer running, so it runs no
        further state (no Catch)."""

        def __init__(self, program):
            self.program = program
            program.timeout_seconds = ExpressLimit()

        def __getattr__(self, name):
            return getattr(self.program, name)

        def eval(self, env) -> None:
            self.program.eval(env)
            if isinstance(env.program_state(), ProgramTimedOut):
                cause = f"The Express child execution ran past its {_active.express_child_s:g} s limit and was stopped."
                env.set_error(ExecutionFailedEventDetails(error="States.Timeout", cause=cause))

    def eval_job_within_limit(self, env, job) -> None:
        if not isinstance(job.job_program, ExpressChild):
            job.job_program = ExpressChild(job.job_program)
        evaluate_job(self, env, job)

    cls._eval_job = eval_job_within_limit
    cls._outreach_express_limit = True


def _make_data_limit_terminal() -> None:
    """AWS: States.ALL matches any error but States.DataLimitExceeded (and States.Runtime), which end the
    execution whatever its Retry and Catch say. moto lets States.ALL match them."""
    from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl

    if getattr(ErrorEqualsDecl, "_outreach_terminal", False):
        return
    match = ErrorEqualsDecl._eval_body
    terminal = {"States.DataLimitExceeded", "States.Runtime"}

    def eval_body(self, env) -> None:
        error = env.stack[-1]
        if getattr(error, "error_name", None) in terminal and ErrorEqualsDecl._STATE_ALL_ERROR in self.error_names:
            env.stack.pop()
            env.stack.append(False)
            return
        match(self, env)

    ErrorEqualsDecl._eval_body = eval_body
    ErrorEqualsDecl._outreach_terminal = True


def _limit_execution_input() -> None:
    from moto.stepfunctions.exceptions import ValidationException
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    if getattr(StepFunctionsParserBackend, "_outreach_input_limit", False):
        return
    start = StepFunctionsParserBackend.start_execution

    def start_execution(self, state_machine_arn, name=None, execution_input=None, *args, **kwargs):
        if execution_input is not None and len(execution_input.encode()) > STATE_PAYLOAD_LIMIT_BYTES:
            raise ValidationException(
                "1 validation error detected: Value at 'input' failed to satisfy constraint: "
                f"Member must have length less than or equal to {STATE_PAYLOAD_LIMIT_BYTES}"
            )
        return start(self, state_machine_arn, name, execution_input, *args, **kwargs)

    StepFunctionsParserBackend.start_execution = start_execution
    StepFunctionsParserBackend._outreach_input_limit = True
