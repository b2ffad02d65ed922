"""Timed scenarios driven over HTTP against the local stack, as a client would drive the service."""

from __future__ import annotations

import copy
import gc
import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
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


MOTO_TRACKED_FREED = [0]  # instances dropped from moto's model tracker by the bench, over the whole run


def release_moto_tracking() -> int:
    """Drop moto's registry of every model instance it ever created (kept only for its server dashboard).

    moto appends each DynamoDB Item it builds, reads included, to a class-level list and never lets go,
    so the local stack's heap grows with every request and full garbage collections take seconds after
    a few thousand calls. The table's own items are unaffected. Called between timed parts only.
    """
    from moto.core.model_instances import model_data, reset_model_data

    count = sum(len(getattr(m, "instances_tracked", ())) for models in model_data.values() for m in models.values())
    reset_model_data()
    MOTO_TRACKED_FREED[0] += count
    return count


class GcWatch:
    """Garbage-collector pauses in this process (the whole local stack lives in it) while timing.

    Starts from a clean slate (moto's tracker released, a full collection), so garbage from the set-up
    is not collected in the timed part. Only pauses while ``active`` are counted.
    """

    def __init__(self) -> None:
        self.pauses_ms: list[tuple[int, float]] = []
        self.active = True
        self._started = 0.0

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif self.active:
            self.pauses_ms.append((info["generation"], (time.perf_counter() - self._started) * 1000))

    def __enter__(self) -> GcWatch:
        release_moto_tracking()
        gc.collect()
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    @property
    def total_ms(self) -> float:
        return sum(ms for _, ms in self.pauses_ms)

    @property
    def max_ms(self) -> float:
        return max((ms for _, ms in self.pauses_ms), default=0.0)

    def summary(self) -> str:
        full = sum(1 for g, _ in self.pauses_ms if g == 2)
        return f"{self.total_ms:.0f} ms (max {self.max_ms:.0f}, {full} full)"


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
    gc: str = ""  # garbage-collector pauses during the timed part

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
    with GcWatch() as watch:
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
        gc=watch.summary(),
    )


@dataclass
class DispatchResult:
    calls: int
    sessions: int
    leads_per_call: int
    latencies_ms: list[float]
    refused: int
    gc: str = ""

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

    Everything runs in one process here, so a run still executing would take CPU from the next dispatch
    (on AWS the API function has its own): after each call, untimed, wait for its run to finish.
    """
    fake.latency_s = 0.0
    campaign = f"bench_dispatch_{int(time.time() * 1000)}"
    ids = sessions_with_framework(api, campaign, min(sessions, calls))
    chat = chat_script()
    leads = make_leads(leads_per_call)
    latencies: list[float] = []
    refused = 0
    with GcWatch() as watch:
        for k in range(calls):
            sid = ids[k % len(ids)]
            if k and k % 50 == 0:  # untimed: keep moto's heap from growing through the series
                watch.active = False
                release_moto_tracking()
                gc.collect()
            watch.active = True
            t0 = time.perf_counter()
            answer = api.generate(sid, leads, sequenceContext=chat.get("sequenceContext"), isFirstBatch=True)
            elapsed = (time.perf_counter() - t0) * 1000
            watch.active = False
            if answer.status == 200:
                latencies.append(elapsed)
            else:
                refused += 1
            wait_idle(api, sid)
    return DispatchResult(calls, len(ids), leads_per_call, latencies, refused, watch.summary())


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


def lead_items(stack, run_id: str) -> list[dict[str, Any]]:
    """The run's lead items straight from the table (usage per lead lives there, not in the API's view)."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    client = stack.client("dynamodb")
    items, start = [], None
    while True:
        kwargs = {
            "TableName": stack.table_name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :lead)",
            "ExpressionAttributeValues": {":pk": {"S": f"R#{run_id}"}, ":lead": {"S": "LEAD#"}},
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = client.query(**kwargs)
        items += [{k: deserializer.deserialize(v) for k, v in item.items()} for item in page["Items"]]
        start = page.get("LastEvaluatedKey")
        if not start:
            return items
