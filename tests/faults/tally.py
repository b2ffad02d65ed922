"""What the fault-injection suite counts, across its tests, for its one tally line."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.client import ApiClient

TALLY_FILE = Path(__file__).resolve().parents[2] / ".local" / "fault-tally.json"
SCHEMATHESIS_FILE = Path(__file__).resolve().parents[2] / ".local" / "schemathesis-tally.json"


class CountingClient(ApiClient):
    """An ApiClient that remembers every status it saw, so unexpected 5xx are counted."""

    def __init__(self, base_url: str, api_key: str | None, tally: Tally):
        super().__init__(base_url, api_key)
        self.tally = tally

    def call(self, *args, **kwargs):
        answer = super().call(*args, **kwargs)
        if answer.status >= 500:
            self.tally.server_answers += 1
        return answer


@dataclass
class Tally:
    faults: list[str] = field(default_factory=list)
    watched: list[tuple[ApiClient, str, list[str] | None]] = field(default_factory=list)
    server_answers: int = 0
    intended_500s: int = 0
    claimed: int = 0
    lost: int = 0
    duplicated: int = 0

    def inject(self, name: str) -> None:
        self.faults.append(name)

    def watch(self, api: ApiClient, session_id: str, lead_ids: list[str] | None = None) -> None:
        """Check this session at the end of the suite: not left claimed; each lead id in its examples once."""
        self.watched.append((api, session_id, lead_ids))

    def check(self, api: ApiClient, session_id: str, lead_ids: list[str] | None = None, settle_s: float = 30.0) -> None:
        """The same check, now (for sessions whose stack will not live to the end of the suite)."""
        deadline = time.monotonic() + settle_s
        while True:
            answer = api.session(session_id)
            if answer.status == 404 or answer.body["task_status"] is None or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        if answer.status == 404:
            self.lost += len(lead_ids or [])
            return
        self.claimed += answer.body["task_status"] is not None
        present = [e["lead_id"] for e in answer.body["generated_examples"]]
        for lead_id in lead_ids or []:
            self.lost += present.count(lead_id) == 0
            self.duplicated += max(0, present.count(lead_id) - 1)

    def check_watched(self) -> None:
        while self.watched:
            self.check(*self.watched.pop(0))

    def totals(self) -> dict:
        schemathesis = json.loads(SCHEMATHESIS_FILE.read_text()) if SCHEMATHESIS_FILE.exists() else {}
        result = {
            "faults_injected": len(self.faults),
            "sessions_left_claimed": self.claimed,
            "examples_lost": self.lost,
            "examples_duplicated": self.duplicated,
            "schemathesis_cases": schemathesis.get("cases", 0),
            "server_errors": self.server_answers - self.intended_500s + schemathesis.get("server_errors", 0),
        }
        TALLY_FILE.parent.mkdir(parents=True, exist_ok=True)
        TALLY_FILE.write_text(json.dumps({**result, "faults": self.faults}, indent=1))
        return result


def line(result: dict) -> str:
    return (
        f"fault-injection: {result['faults_injected']} faults injected, "
        f"{result['sessions_left_claimed']} sessions left claimed, {result['examples_lost']} examples lost, "
        f"{result['examples_duplicated']} examples duplicated, {result['schemathesis_cases']} schemathesis cases run, "
        f"{result['server_errors']} server errors"
    )


TALLY = Tally()
