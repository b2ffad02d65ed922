"""Crash `python -m local.serve` with SIGKILL under load, restart it, and count acknowledged writes lost.

Used by tests/restart/test_kill9.py and by `make bench`. Clients create, rename and delete sessions over
HTTP; a write counts as acknowledged when its answer (201/200) arrived. The server is killed while the
clients are still writing, so some requests are in flight: such a request may or may not have been
applied, and either outcome is correct; an acknowledged one must be there after the restart.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from local.cfn import ROOT
from tests.client import SESSIONS, ApiClient

KEY = "crash-key"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """`python -m local.serve` in a subprocess, on a state directory that outlives it.

    ``env``: the server's whole environment (PORT and LOCAL_STATE_DIR are added), with ``api_key`` one of its
    LOCAL_API_KEYS; by default this process's environment with the crash test's settings.
    """

    def __init__(self, state_dir: Path, fake_url: str, ready_timeout_s: float = 60, *,
                 env: dict[str, str] | None = None, api_key: str = KEY):
        self.state_dir, self.fake_url, self.ready_timeout_s = state_dir, fake_url, ready_timeout_s
        self.env, self.api_key = env, api_key
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Server:
        base = self.env if self.env is not None else {
            **os.environ, "LOCAL_API_KEYS": f"ws:{KEY}", "LLM_PROVIDER": "openai", "OPENAI_API_KEY": "x",
            "OPENAI_BASE_URL": self.fake_url, "LLM_MAX_RETRIES": "0", "POWERTOOLS_METRICS_NAMESPACE": "Outreach"}
        env = {**base, "PORT": str(self.port), "LOCAL_STATE_DIR": str(self.state_dir)}
        log = open(self.state_dir / f"serve-{self.port}.log", "wb")  # noqa: SIM115 (the process owns it)
        self.proc = subprocess.Popen([sys.executable, "-m", "local.serve"], cwd=ROOT, env=env,
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + self.ready_timeout_s
        api = ApiClient(self.url, self.api_key)
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"local.serve exited with {self.proc.returncode}: {self.log_text()[-2000:]}")
            try:
                if api.call("GET", f"{SESSIONS}?campaign_id=ready").status == 200:
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"local.serve not ready after {self.ready_timeout_s}s: {self.log_text()[-2000:]}")
            time.sleep(0.05)

    def log_text(self) -> str:
        return (self.state_dir / f"serve-{self.port}.log").read_text(errors="replace")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Ledger:
    """What the clients were told: per session, every acknowledged title (in order) and the one in flight."""

    created: dict[str, list[str]] = field(default_factory=dict)  # session id -> acknowledged titles, in order
    deleted: set[str] = field(default_factory=set)
    in_flight: dict[str, str] = field(default_factory=dict)  # session id -> a title or "DELETE", unanswered
    acknowledged: int = 0
    errors: list[str] = field(default_factory=list)  # answers other than success while the server was up
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class CrashResult:
    acknowledged: int
    sessions: int
    lost: list[str]
    errors: list[str]
    restored: str


def _client_loop(api: ApiClient, number: int, ledger: Ledger, stop: threading.Event) -> None:
    n = 0
    try:
        while not stop.is_set():
            title = f"c{number}-{n}-0"
            answer = api.call("POST", SESSIONS, {"campaign_id": "crash", "node_id": "n", "title": title})
            if answer.status != 201:
                raise AssertionError(f"create answered {answer.status}: {answer.body}")
            session_id = answer.body["id"]
            with ledger.lock:
                ledger.created[session_id] = [title]
                ledger.acknowledged += 1
            for version in range(1, 6):
                title = f"c{number}-{n}-{version}"
                with ledger.lock:
                    ledger.in_flight[session_id] = title
                answer = api.call("PATCH", f"{SESSIONS}/{session_id}", {"title": title})
                if answer.status != 200:
                    raise AssertionError(f"patch answered {answer.status}: {answer.body}")
                with ledger.lock:
                    ledger.created[session_id].append(title)
                    ledger.in_flight.pop(session_id)
                    ledger.acknowledged += 1
            if n % 4 == 3:
                with ledger.lock:
                    ledger.in_flight[session_id] = "DELETE"
                answer = api.call("DELETE", f"{SESSIONS}/{session_id}")
                if answer.status != 200:
                    raise AssertionError(f"delete answered {answer.status}: {answer.body}")
                with ledger.lock:
                    ledger.deleted.add(session_id)
                    ledger.in_flight.pop(session_id)
                    ledger.acknowledged += 1
            n += 1
    except (OSError, http.client.HTTPException):
        return  # the server is gone: what was in flight stays unacknowledged
    except AssertionError as error:
        with ledger.lock:
            ledger.errors.append(str(error))


def lost_writes(api: ApiClient, ledger: Ledger) -> list[str]:
    """Every acknowledged write that the restarted server does not show."""
    lost = []
    for session_id, titles in ledger.created.items():
        answer = api.session(session_id)
        pending = ledger.in_flight.get(session_id)
        if session_id in ledger.deleted:
            if answer.status != 404:
                lost.append(f"{session_id}: deleted (acknowledged) but answers {answer.status}")
        elif answer.status == 404:
            if pending != "DELETE":
                lost.append(f"{session_id}: created (acknowledged) but gone")
        elif answer.status != 200:
            lost.append(f"{session_id}: answers {answer.status} {answer.body}")
        elif answer.body["title"] not in (titles[-1], pending):
            lost.append(f"{session_id}: title {answer.body['title']!r}, acknowledged {titles[-1]!r}")
    return lost


def crash_under_load(state_dir: Path, fake_url: str, clients: int = 8, kill_after_acks: int = 150,
                     timeout_s: float = 120) -> CrashResult:
    """Start the server, drive writes from `clients` threads, SIGKILL it once `kill_after_acks` writes were
    acknowledged (clients still writing), restart it on the same state directory and check every write."""
    server = Server(state_dir, fake_url).start()
    api = ApiClient(server.url, KEY)
    ledger, stop = Ledger(), threading.Event()
    threads = [threading.Thread(target=_client_loop, args=(api, i, ledger, stop), daemon=True) for i in range(clients)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + timeout_s
        while ledger.acknowledged < kill_after_acks:
            if time.monotonic() > deadline or not any(t.is_alive() for t in threads):
                raise RuntimeError(f"only {ledger.acknowledged} writes acknowledged: {server.log_text()[-2000:]}")
            time.sleep(0.01)
        server.kill()  # the clients are mid-request
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        stop.set()
        server.kill()
    restarted = Server(state_dir, fake_url).start()
    try:
        api = ApiClient(restarted.url, KEY)
        lost = lost_writes(api, ledger)
        restored = next((line.strip() for line in restarted.log_text().splitlines() if "restored" in line), "")
    finally:
        restarted.stop()
    return CrashResult(ledger.acknowledged, len(ledger.created), lost, ledger.errors, restored)
