"""A `make serve` holding 20,000 items answers as fast as an empty one: both measured side by side.

    python -m bench.table_size [--items N] [--rounds R]

Two servers (`python -m local.serve`, each on its own SQLite state) run at once: one on an empty table, one
whose table holds N more items before it starts: copies of a real session, written to SQLite, in the same
workspace and the same campaign as the measured calls, so every listing reads the large index key. Calls
alternate between the two servers, round by round, so a busy moment of the machine hits both: create a
session, read one, list the campaign's first page and its second (20 a page), and dispatch one lead
(POST generate-examples; its run is waited for, untimed, so each dispatch finds a quiet stack). Figures:
the p50 of each call on each server, and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import workload
from bench.soak import rss_mb, session_copies
from tests.client import SESSIONS, ApiClient
from tests.restart.crash_load import KEY, Server

CAMPAIGN = "large"
PAGE = 20
CALLS = ("create session", "read session", "list first page", "list next page", "dispatch 1 lead")


@dataclass
class Side:
    """One server and what was measured on it."""

    server: Server
    api: ApiClient
    framed: list[str] = field(default_factory=list)
    ms: dict[str, list[float]] = field(default_factory=lambda: {call: [] for call in CALLS})
    start_s: float = 0.0  # from launching `python -m local.serve` until it answers
    start_rss_mb: float = 0.0  # its RSS then, before any call of the measure

    def p50(self, call: str) -> float:
        return statistics.median(self.ms[call])


def _timed(side: Side, call: str, request: Callable[[], object]) -> object:
    started = time.perf_counter()
    answer = request()
    side.ms[call].append((time.perf_counter() - started) * 1000)
    return answer


def _round(side: Side, number: int) -> None:
    api = side.api
    created = _timed(side, "create session", lambda: api.call(
        "POST", SESSIONS, {"campaign_id": CAMPAIGN, "node_id": f"n{number}"}))
    workload._check(created, 201, "create session")
    workload._check(_timed(side, "read session", lambda: api.session(side.framed[0])), 200, "read session")
    first = _timed(side, "list first page", lambda: api.call("GET", f"{SESSIONS}?campaign_id={CAMPAIGN}&limit={PAGE}"))
    cursor = workload._check(first, 200, "list")["next_cursor"]
    following = f"{SESSIONS}?campaign_id={CAMPAIGN}&limit={PAGE}&cursor={cursor}"
    workload._check(_timed(side, "list next page", lambda: api.call("GET", following)), 200, "list next page")
    sid = side.framed[number % len(side.framed)]
    dispatched = _timed(side, "dispatch 1 lead", lambda: api.generate(sid, workload.make_leads(1), isFirstBatch=True))
    workload._check(dispatched, 200, "dispatch")
    workload.wait_idle(api, sid)


def measure(items: int = 20_000, rounds: int = 40, progress: Callable[[str], None] = print) -> tuple[Side, Side]:
    """(empty, large): the same calls, alternated, on a server with an empty table and one holding `items` more."""
    from tests.fakes.openai_server import FakeOpenAI

    fake = FakeOpenAI(latency_s=0.0).start()
    sides: list[Side] = []
    try:
        with tempfile.TemporaryDirectory(prefix="outreach-empty-") as empty_dir, \
                tempfile.TemporaryDirectory(prefix="outreach-large-") as large_dir:
            progress(f"  writing {items:,} session items into the large server's table …")
            session_copies(Path(large_dir), fake.url, items, CAMPAIGN)
            for state_dir in (empty_dir, large_dir):
                started = time.perf_counter()
                server = Server(Path(state_dir), fake.url).start()
                sides.append(Side(server, ApiClient(server.url, KEY), start_s=time.perf_counter() - started,
                                  start_rss_mb=rss_mb(server.proc.pid)))
            for side in sides:
                workload.warm_up(side.api, fake)
                side.framed = workload.sessions_with_framework(side.api, "framed", 4)
                for n in range(2 * PAGE):  # the empty campaign has a full second page too
                    side.api.call("POST", SESSIONS, {"campaign_id": CAMPAIGN, "node_id": f"fill{n}"})
            progress(f"  {rounds} rounds of {len(CALLS)} calls on each server, alternated …")
            for number in range(rounds):
                for side in sides if number % 2 == 0 else reversed(sides):
                    _round(side, number)
    finally:
        for side in sides:
            side.server.stop()
        fake.stop()
    return sides[0], sides[1]


def rows(empty: Side, large: Side) -> list[tuple[str, str, float]]:
    """(call, 'p50 large against p50 empty', ratio) per call."""
    out = []
    for call in CALLS:
        ratio = large.p50(call) / empty.p50(call)
        out.append((call, f"{large.p50(call):.1f} ms against {empty.p50(call):.1f} ms ({ratio:.2f} ×)", ratio))
    return out


def start_rows(empty: Side, large: Side, items: int) -> list[tuple[str, str]]:
    """(figure, 'large against empty') for the servers' start-up: time until they answer, and RSS then."""
    return [("start until it answers", f"{large.start_s:.1f} s against {empty.start_s:.1f} s"),
            ("RSS once started", f"{large.start_rss_mb:.0f} MB against {empty.start_rss_mb:.0f} MB "
                                 f"({(large.start_rss_mb - empty.start_rss_mb) * 1e6 / max(1, items):,.0f} "
                                 "bytes an item)")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.table_size", description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args(argv)
    empty, large = measure(args.items, args.rounds)
    for call, text, _ in rows(empty, large):
        print(f"{call}: {text}")
    for figure, text in start_rows(empty, large, args.items):
        print(f"{figure}: {text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
