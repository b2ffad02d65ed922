"""Timed scenarios driven over HTTP against the local stack, as a client would drive the service.

The stack is whatever answers at the ApiClient's URL: for `make bench`, `python -m local.serve` in its own
process, as users run it; this client and the fake LLM run in the bench's process, outside it.
"""

from __future__ import annotations

import copy
import json
import sqlite3
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.cfn import ROOT
from tests.client import SESSIONS, ApiClient

EVENTS = ROOT / "events"
POLL_S = 0.02  # how often "is it idle yet?" is asked


def chat_script() -> dict:
    return json.loads((EVENTS / "chat_turns.json").read_text())


def make_leads(n: int) -> list[dict]:
    """n distinct, realistic leads: the sample leads cycled, each copy renamed so no two are equal."""
    base = json.loads((EVENTS / "sample_leads.json").read_text())
    leads = []
    for i in range(n):
        lead = copy.deepcopy(base[i % len(base)])
        suffix = f" {i // len(base) + 1}" if i >= len(base) else ""
        for key in ("first_name", "full_name", "company"):
            if lead.get(key):
                lead[key] = f"{lead[key]}{suffix}"
        leads.append(lead)
    return leads


class BenchError(RuntimeError):
    pass


def _check(answer, status: int, what: str):
    if answer.status != status:
        raise BenchError(f"{what}: expected {status}, got {answer.status}: {answer.body}")
    return answer.body


def list_campaign(api: ApiClient, campaign_id: str) -> dict[str, dict]:
    body = _check(api.call("GET", f"{SESSIONS}?campaign_id={campaign_id}"), 200, "list sessions")
    return {s["id"]: s for s in body["sessions"]}


def wait_campaign_idle(api: ApiClient, campaign_id: str, ids: set[str], timeout_s: float) -> dict[str, dict]:
    deadline = time.monotonic() + timeout_s
    while True:
        sessions = list_campaign(api, campaign_id)
        if all(sessions.get(i, {}).get("task_status", "missing") is None for i in ids):
            return sessions
        if time.monotonic() > deadline:
            busy = [i for i in ids if sessions.get(i, {}).get("task_status") is not None]
            raise BenchError(f"{len(busy)} sessions of {campaign_id} still busy after {timeout_s:.0f} s")
        time.sleep(POLL_S)


def sessions_with_framework(api: ApiClient, campaign_id: str, count: int, timeout_s: float = 120) -> list[str]:
    """`count` new sessions in one campaign, each with a framework from one chat turn (the fake's FrameworkReply)."""
    chat = chat_script()

    def one(i: int) -> str:
        session = api.create_session(campaign_id=campaign_id, node_id=f"node_{i}", title=f"bench {i}")
        _check(
            api.turn(session["id"], chat["turns"][0], availableVarNames=chat.get("availableVarNames", []),
                     sequenceContext=chat.get("sequenceContext")),
            200, "chat turn",
        )
        return session["id"]

    with ThreadPoolExecutor(max_workers=min(count, 20)) as pool:
        ids = list(pool.map(one, range(count)))
    sessions = wait_campaign_idle(api, campaign_id, set(ids), timeout_s)
    missing = [i for i in ids if not sessions[i].get("skeleton")]
    if missing:
        raise BenchError(f"{len(missing)} sessions got no framework from the chat turn")
    return ids


@dataclass
class ScenarioResult:
    name: str
    sessions: int
    leads_per_session: int
    wall_s: float
    per_session_s: list[float]
    runs: list[dict]  # run id, token, status, progress
    dispatch_ms: list[float]  # each dispatch call's HTTP round trip
    llm_calls: int
    max_in_flight: int
    first_call_s: float  # dispatch sent -> first LLM request seen by the fake
    last_answer_s: float  # dispatch sent -> last LLM answer sent (request time + L)
    requests: list[dict] = field(default_factory=list)  # the fake's recorded EmailDraft requests of this scenario

    @property
    def ok(self) -> bool:
        return all(r["status"] == "COMPLETED" and r["progress"]["completed"] == self.leads_per_session
                   for r in self.runs)


def run_scenario(api: ApiClient, fake, latency_s: float, name: str, sessions: int, leads_per_session: int,
                 timeout_s: float = 300) -> ScenarioResult:
    """Fresh sessions with frameworks, then generate-examples on all of them at once; time to all idle."""
    campaign = f"bench_{name}_{int(time.time() * 1000)}"
    fake.latency_s = 0.0  # framework set-up is not what is measured
    ids = sessions_with_framework(api, campaign, sessions)
    chat = chat_script()
    leads = make_leads(leads_per_session)

    fake.reset()
    fake.latency_s = latency_s
    answered: dict[str, dict] = {}
    answer_ms: dict[str, float] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(ids) + 1)

    def dispatch(sid: str) -> None:
        barrier.wait()
        t0 = time.perf_counter()
        try:
            body = _check(api.generate(sid, leads, sequenceContext=chat.get("sequenceContext"), isFirstBatch=True),
                          200, "generate-examples")
        except BaseException as error:  # reported by the polling loop
            with lock:
                errors.append(error)
            return
        with lock:
            answered[sid] = body
            answer_ms[sid] = (time.perf_counter() - t0) * 1000

    threads = [threading.Thread(target=dispatch, args=(sid,), daemon=True) for sid in ids]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.monotonic()
    done: dict[str, float] = {}
    deadline = started + timeout_s
    while len(done) < len(ids):
        if time.monotonic() > deadline:
            raise BenchError(f"{name}: {len(ids) - len(done)} sessions still busy after {timeout_s:.0f} s")
        with lock:
            sent = set(answered)
        if sent - set(done):
            now = time.monotonic()
            listed = list_campaign(api, campaign)
            for sid in sent - set(done):
                if listed[sid]["task_status"] is None:
                    done[sid] = now - started
        if errors:
            raise BenchError(f"{name}: {len(errors)} dispatches failed, first: {errors[0]}")
        time.sleep(POLL_S)
    for t in threads:
        t.join()

    runs = []
    for sid in ids:
        body = answered[sid]
        run = _check(api.call("GET", f"/api/runs/{body['runId']}", token=body["publicAccessToken"]), 200, "run")
        runs.append({"id": body["runId"], "token": body["publicAccessToken"], "status": run["status"],
                     "progress": run["progress"], "usage": run.get("usage")})
    emails = [r for r in list(fake.requests) if r["path"].endswith(("/chat/completions", "/responses"))]
    ats = [r["at"] for r in emails]
    return ScenarioResult(
        name=name,
        sessions=sessions,
        leads_per_session=leads_per_session,
        wall_s=max(done.values()),
        per_session_s=[done[s] for s in ids],
        runs=runs,
        dispatch_ms=[answer_ms[s] for s in ids],
        llm_calls=len(emails),
        max_in_flight=fake.max_in_flight,
        first_call_s=(min(ats) - started) if ats else float("nan"),
        last_answer_s=(max(ats) + latency_s - started) if ats else float("nan"),
        requests=emails,
    )


@dataclass
class DispatchResult:
    calls: int
    sessions: int
    leads_per_call: int
    latencies_ms: list[float]
    refused: int

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))  # nearest rank
        return ordered[k]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.latencies_ms)


def dispatch_latency(api: ApiClient, fake, calls: int, sessions: int = 10, leads_per_call: int = 1) -> DispatchResult:
    """HTTP round trip of POST generate-examples alone, each call on a quiet stack, fake latency 0.

    The stack is one process: a run still executing in it would take CPU from the next dispatch (on AWS the
    API function has its own), so after each call, untimed, wait for its run to finish.
    """
    fake.latency_s = 0.0
    campaign = f"bench_dispatch_{int(time.time() * 1000)}"
    ids = sessions_with_framework(api, campaign, min(sessions, calls))
    chat = chat_script()
    leads = make_leads(leads_per_call)
    latencies: list[float] = []
    refused = 0
    for k in range(calls):
        sid = ids[k % len(ids)]
        t0 = time.perf_counter()
        answer = api.generate(sid, leads, sequenceContext=chat.get("sequenceContext"), isFirstBatch=True)
        elapsed = (time.perf_counter() - t0) * 1000
        if answer.status == 200:
            latencies.append(elapsed)
        else:
            refused += 1
        wait_idle(api, sid)
    return DispatchResult(calls, len(ids), leads_per_call, latencies, refused)


def wait_idle(api: ApiClient, session_id: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while _check(api.session(session_id), 200, "get session")["task_status"] is not None:
        if time.monotonic() > deadline:
            raise BenchError(f"session {session_id} still busy after {timeout_s:.0f} s")
        time.sleep(POLL_S)


def warm_up(api: ApiClient, fake) -> None:
    """One small run first, so the figures are of a warm stack (handlers loaded, clients built)."""
    fake.latency_s = 0.0
    campaign = f"bench_warmup_{int(time.time() * 1000)}"
    (sid,) = sessions_with_framework(api, campaign, 1)
    _check(api.generate(sid, make_leads(2), isFirstBatch=True), 200, "warm-up generate-examples")
    wait_idle(api, sid, timeout_s=60)


def lead_items(state_dir: Path, run_id: str) -> list[dict[str, Any]]:
    """The run's lead items (usage per lead lives there, not in the API's view), read from the server's SQLite
    state (local/persistence.py): a read-only reader beside the running server (WAL journal)."""
    from boto3.dynamodb.types import TypeDeserializer

    from local.persistence import DATABASE_FILE, key_text

    deserializer = TypeDeserializer()
    with sqlite3.connect(f"file:{state_dir / DATABASE_FILE}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT item FROM items WHERE hash_key = ?", (key_text({"S": f"R#{run_id}"}),)).fetchall()
    items = [json.loads(text) for (text,) in rows]
    return [{k: deserializer.deserialize(v) for k, v in item.items()} for item in items
            if item["sk"]["S"].startswith("LEAD#")]
