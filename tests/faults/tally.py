"""What the fault-injection suite counts, for its one tally line: faults that happened, and what they left behind.

A fault is counted when the stack or the fake LLM saw it happen (a hook that raised, a fake answer that
failed, an execution that ended ABORTED), never because a test meant to inject it. One Tally lives for the
whole pytest session (the ``tally`` fixture, tests/conftest.py), so nothing depends on the order of files.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from tests.client import Answer, ApiClient
from tests.waiting import wait_until

# A 500 that names this code is explained when a "StartExecution fails" fault happened during the call.
DISPATCH_FAILED = "dispatch_failed"
START_EXECUTION_FAILS = "StartExecution fails"


class CountingClient(ApiClient):
    """An ApiClient that tells the tally of every 5xx it saw."""

    def __init__(self, base_url: str, api_key: str | None, tally: Tally):
        super().__init__(base_url, api_key)
        self.tally = tally

    def call(self, *args, **kwargs) -> Answer:
        answer = super().call(*args, **kwargs)
        if answer.status >= 500:
            code = answer.body.get("code") if isinstance(answer.body, dict) else None
            self.tally.server_answers.append(code)
        return answer


@dataclass
class Tally:
    faults: Counter = field(default_factory=Counter)
    watched: list[tuple[ApiClient, str, list[str] | None]] = field(default_factory=list)
    server_answers: list[str | None] = field(default_factory=list)  # the error code of every 5xx a client saw
    claimed: int = 0
    lost: int = 0
    duplicated: int = 0
    schemathesis_cases: int = 0
    schemathesis_server_errors: int = 0

    def observe(self, fault: str, times: int = 1) -> None:
        """The stack or the fake saw ``fault`` happen ``times`` times."""
        self.faults[fault] += times

    def watch(self, api: ApiClient, session_id: str, lead_ids: list[str] | None = None) -> None:
        """Check this session when its stack is about to stop: not left claimed; each lead id in its examples once."""
        self.watched.append((api, session_id, lead_ids))

    def check(self, api: ApiClient, session_id: str, lead_ids: list[str] | None = None, settle_s: float = 30.0) -> None:
        """The same check, now."""

        def settled() -> Answer | None:
            answer = api.session(session_id)
            return answer if answer.status == 404 or answer.body["task_status"] is None else None

        try:
            answer = wait_until(settled, settle_s, f"session {session_id} to be free")
        except AssertionError:
            self.claimed += 1
            return
        if answer.status == 404:
            self.lost += len(lead_ids or [])
            return
        present = [e["lead_id"] for e in answer.body["generated_examples"]]
        for lead_id in lead_ids or []:
            self.lost += present.count(lead_id) == 0
            self.duplicated += max(0, present.count(lead_id) - 1)

    def check_watched(self) -> None:
        while self.watched:
            self.check(*self.watched.pop(0))

    def unexplained_server_errors(self) -> int:
        """5xx answers no observed fault explains (a dispatch_failed 500 is explained by a failed StartExecution)."""
        dispatch_failed = self.server_answers.count(DISPATCH_FAILED)
        explained = min(dispatch_failed, self.faults[START_EXECUTION_FAILS])
        return len(self.server_answers) - explained + self.schemathesis_server_errors

    def totals(self) -> dict:
        return {
            "faults_injected": sum(self.faults.values()),
            "sessions_left_claimed": self.claimed,
            "examples_lost": self.lost,
            "examples_duplicated": self.duplicated,
            "schemathesis_cases": self.schemathesis_cases,
            "server_errors": self.unexplained_server_errors(),
        }

    def problems(self) -> dict:
        """The totals that must be zero, where they are not."""
        totals = self.totals()
        names = ("sessions_left_claimed", "examples_lost", "examples_duplicated", "server_errors")
        return {name: totals[name] for name in names if totals[name]}


def line(result: dict) -> str:
    return (
        f"fault-injection: {result['faults_injected']} faults injected, "
        f"{result['sessions_left_claimed']} sessions left claimed, {result['examples_lost']} examples lost, "
        f"{result['examples_duplicated']} examples duplicated, {result['schemathesis_cases']} schemathesis cases run, "
        f"{result['server_errors']} server errors"
    )
