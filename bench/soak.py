"""A soak of `python -m local.serve`: 16 clients for BENCH_SOAK_S seconds, as users would drive it.

    python -m bench.soak [--seconds S] [--clients N] [--interval S] [--prefill N]

Each client loops: create a session, chat one turn, generate examples for 5 leads (first batch), top up
with 5 more (append), list its campaign, read the session, and send two bad requests (bad JSON: 400,
unknown session: 404), checking after each run that every example is present and in order. The server
runs as a subprocess on its own SQLite state (the real `make serve`), so its RSS is its own. Per
interval: requests, p50 and p95 of every API call's latency, the server's RSS, and the table's items.
At the end: 5xx answers, sessions left claimed, examples missing or out of order.

`--prefill N` first puts N session-shaped items of another workspace into the table (copies of a real
session item, written to SQLite before the server starts) so the soak runs on a table that is already
large.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from local.persistence import DATABASE_FILE, key_text
from tests.client import SESSIONS, ApiClient
from tests.restart.crash_load import KEY, Server

LATENCY_S = 0.05  # the fake LLM's answer time: short, so the soak measures the service


@dataclass
class Interval:
    start_s: float
    latencies_ms: list[float] = field(default_factory=list)
    rss_mb: float = 0.0
    items: int = 0

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] if ordered else float("nan")


@dataclass
class SoakResult:
    seconds: float
    clients: int
    intervals: list[Interval]
    requests: int
    server_errors: list[str]
    problems: list[str]  # claimed sessions, missing or misordered examples, unexpected answers
    cycles: int
    prefill: int
    # A fresh server started on the soak's final table, once it answers: what holding that data costs by itself,
    # so growth past it is memory the long-running server kept (registries, executions, caches), not the table.
    restart_rss_mb: float = float("nan")

    def flatness(self) -> tuple[float, float]:
        """Largest deviation of any full interval's p50 and p95 from their median, as a fraction."""
        full = [i for i in self.intervals if i.latencies_ms][: max(1, len(self.intervals) - 1)] or self.intervals
        out = []
        for p in (50, 95):
            values = [i.pct(p) for i in full]
            mid = statistics.median(values)
            out.append(max(abs(v - mid) / mid for v in values) if mid else 0.0)
        return out[0], out[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def table_items(state_dir: Path) -> int:
    with sqlite3.connect(f"file:{state_dir / 'dynamodb.sqlite3'}?mode=ro", uri=True) as db:
        return db.execute("SELECT count(*) FROM items").fetchone()[0]


def leads(tag: str, start: int, n: int) -> list[dict]:
    return [{"first_name": f"Lee{i}", "last_name": tag, "company": f"Co {tag} {i}",
             "linkedin_url": f"https://www.linkedin.com/in/{tag}-{i}"} for i in range(start, start + n)]


class Soak:
    def __init__(self, api: ApiClient, seconds: float, clients: int, interval_s: float, pid: int, state_dir: Path):
        self.api, self.seconds, self.clients, self.interval_s = api, seconds, clients, interval_s
        self.pid, self.state_dir = pid, state_dir
        self.lock = threading.Lock()
        self.started = 0.0
        self.intervals: list[Interval] = []
        self.server_errors: list[str] = []
        self.problems: list[str] = []
        self.requests = self.cycles = 0
        self.sessions: list[str] = []

    def call(self, method: str, path: str, body=None, raw: bytes | None = None, expect: int = 200):
        t0 = time.monotonic()
        answer = self.api.call(method, path, body, raw=raw)
        ms = (time.monotonic() - t0) * 1000
        with self.lock:
            self.requests += 1
            index = min(len(self.intervals) - 1, int((t0 - self.started) / self.interval_s))
            self.intervals[index].latencies_ms.append(ms)
            if answer.status >= 500:
                self.server_errors.append(f"{method} {path}: {answer.status} {answer.body}")
            elif answer.status != expect:
                self.problems.append(f"{method} {path}: {answer.status} (expected {expect}) {answer.body}")
        return answer

    def wait_idle(self, session_id: str, deadline: float) -> dict:
        while True:
            body = self.call("GET", f"{SESSIONS}/{session_id}").body
            if not isinstance(body, dict) or body.get("task_status") is None or time.monotonic() > deadline:
                return body if isinstance(body, dict) else {}
            time.sleep(0.05)

    def client(self, number: int) -> None:
        end = self.started + self.seconds
        cycle = 0
        while time.monotonic() < end:
            tag = f"k{number}x{cycle}"
            created = self.call("POST", SESSIONS, {"campaign_id": f"soak{number}", "node_id": "n", "title": tag},
                                expect=201).body
            if not isinstance(created, dict) or "id" not in created:
                return
            sid = created["id"]
            with self.lock:
                self.sessions.append(sid)
            self.call("POST", f"{SESSIONS}/{sid}/turn", {"message": "We sell AI meeting notes. Ask for a call."})
            self.wait_idle(sid, time.monotonic() + 60)
            expected: list[str] = []
            for first, batch in ((True, leads(tag, 0, 5)), (False, leads(tag, 5, 5))):
                self.call("POST", f"{SESSIONS}/{sid}/generate-examples", {"leads": batch, "isFirstBatch": first})
                expected = [lead["linkedin_url"] for lead in batch] if first else expected + [
                    lead["linkedin_url"] for lead in batch]
                done = self.wait_idle(sid, time.monotonic() + 60)
                got = [e["lead_id"] for e in done.get("generated_examples", [])]
                if got != expected:
                    with self.lock:
                        self.problems.append(f"session {sid}: examples {got} != {expected}")
            self.call("GET", f"{SESSIONS}?campaign_id=soak{number}")
            self.call("POST", SESSIONS, raw=b"{not json", expect=400)
            self.call("GET", f"{SESSIONS}/{uuid.uuid4()}", expect=404)
            cycle += 1
            with self.lock:
                self.cycles += 1

    def sampler(self, stop: threading.Event) -> None:
        for index, interval in enumerate(self.intervals):
            if stop.wait(max(0.0, self.started + (index + 1) * self.interval_s - time.monotonic())):
                return
            interval.rss_mb = rss_mb(self.pid)
            interval.items = table_items(self.state_dir)

    def run(self) -> None:
        count = max(1, round(self.seconds / self.interval_s))
        self.started = time.monotonic()
        self.intervals = [Interval(i * self.interval_s) for i in range(count)]
        stop = threading.Event()
        sampler = threading.Thread(target=self.sampler, args=(stop,), daemon=True)
        sampler.start()
        threads = [threading.Thread(target=self.client, args=(i,), daemon=True) for i in range(self.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stop.set()
        sampler.join()

    def check_final(self) -> None:
        """No session left claimed once everything has finished."""
        deadline = time.monotonic() + 120
        for sid in self.sessions:
            body = self.wait_idle(sid, deadline)
            if body.get("task_status") is not None:
                self.problems.append(f"session {sid} still claimed ({body['task_status']})")


def session_copies(state_dir: Path, fake_url: str, count: int, campaign_id: str,
                   edit: Callable[[str, int], str] = lambda text, i: text) -> None:
    """`count` copies of one real session item of `campaign_id`, each under a new id and then `edit(text, i)`,
    straight into the SQLite state of a server that is not running."""
    server = Server(state_dir, fake_url).start()
    try:
        created = ApiClient(server.url, KEY).call("POST", SESSIONS, {"campaign_id": campaign_id, "node_id": "n"}).body
    finally:
        server.stop()
    session_id = created["id"]
    with sqlite3.connect(state_dir / DATABASE_FILE) as db:
        (table, text), = db.execute("SELECT table_name, item FROM items WHERE item LIKE ?",
                                    (f"%{session_id}%",)).fetchall()
        rows = []
        for i in range(count):
            copy = edit(text.replace(session_id, str(uuid.uuid4())), i)
            item = json.loads(copy)
            rows.append((table, key_text(item["pk"]), key_text(item["sk"]), copy))
        db.executemany("INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?)", rows)


def prefill(state_dir: Path, fake_url: str, count: int) -> None:
    """Copies of one real session item, in another workspace, 50 to a campaign."""
    def elsewhere(text: str, i: int) -> str:
        text = text.replace("template", f"fill{i // 50}").replace("WS#ws#", "WS#filler#")
        return text.replace('"workspace_id": {"S": "ws"}', '"workspace_id": {"S": "filler"}')

    session_copies(state_dir, fake_url, count, "template", elsewhere)


def soak(seconds: float, clients: int = 16, interval_s: float = 60.0, prefill_items: int = 0) -> SoakResult:
    from tests.fakes.openai_server import FakeOpenAI

    fake = FakeOpenAI(latency_s=LATENCY_S).start()
    try:
        with tempfile.TemporaryDirectory(prefix="outreach-soak-") as directory:
            state_dir = Path(directory)
            if prefill_items:
                prefill(state_dir, fake.url, prefill_items)
            server = Server(state_dir, fake.url).start()
            try:
                run = Soak(ApiClient(server.url, KEY), seconds, clients, interval_s, server.proc.pid, state_dir)
                run.run()
                run.check_final()
            finally:
                server.stop()
            fresh = Server(state_dir, fake.url).start()
            try:
                restart_rss = rss_mb(fresh.proc.pid)
            finally:
                fresh.stop()
    finally:
        fake.stop()
    return SoakResult(seconds, clients, run.intervals, run.requests, run.server_errors, run.problems, run.cycles,
                      prefill_items, restart_rss)


def report(result: SoakResult) -> list[str]:
    lines = ["| interval | requests | p50 | p95 | server RSS | table items |", "| --- | --- | --- | --- | --- | --- |"]
    for interval in result.intervals:
        lines.append(f"| {interval.start_s:.0f}–{interval.start_s + (result.seconds / len(result.intervals)):.0f} s "
                     f"| {len(interval.latencies_ms)} | {interval.pct(50):.0f} ms | {interval.pct(95):.0f} ms "
                     f"| {interval.rss_mb:.0f} MB | {interval.items} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SOAK_S", "60")))
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--interval", type=float, default=None, help="default: 60 s, or a sixth of a short soak")
    parser.add_argument("--prefill", type=int, default=0)
    args = parser.parse_args(argv)
    interval = args.interval or (60.0 if args.seconds >= 180 else max(5.0, args.seconds / 6))
    result = soak(args.seconds, args.clients, interval, args.prefill)
    print("\n".join(report(result)))
    p50_dev, p95_dev = result.flatness()
    print(f"{result.requests} requests, {result.cycles} client cycles, {len(result.server_errors)} 5xx, "
          f"{len(result.problems)} problems; p50 within {p50_dev:.0%} of its median, p95 within {p95_dev:.0%}")
    for line in (result.server_errors + result.problems)[:20]:
        print("  " + line)
    return 0 if not result.server_errors and not result.problems else 1


if __name__ == "__main__":
    sys.exit(main())
