"""`make bench`: the service's figures on the local stack against a fake LLM of fixed latency L.

The timed scenarios and the dispatch series measure the stack as users run it: `python -m local.serve` in
its own process (on its own SQLite state); the fake LLM and the HTTP client run in the bench's process.

    python -m bench.run [--latency L] [--quick] [--out bench/RESULTS.md]

Prints, and writes to --out, with times as ratios to L:
- dispatch-to-idle for 1, 10, 40 and 100 leads, and for 5 sessions x 8 leads and 20 x 10 at once;
- the dispatch call's latency (p50, p99 over 500 calls, fake latency 0);
- each handler's import time (a cold-start proxy) and the functions' and the layer's sizes;
- tokens per lead, the share of input shared by every call of a run, and the cost per lead;
- `make serve` as a subprocess: acknowledged writes lost to a kill -9 under load, and a soak of 16 clients
  for BENCH_SOAK_S seconds (default 60; 300 for the issue's figure) with p50/p95, RSS and table size per interval.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from local.cfn import ROOT, load_template, parameter_defaults

sys.path.insert(0, str(ROOT))

from bench import data_model, static, table_size, tokens, workload  # noqa: E402

MODEL = "gpt-4.1-mini"
BENCH_KEY = "bench-key"


@dataclass
class Row:
    section: str
    figure: str
    value: str
    target: str = ""
    status: str = ""  # PASS, MISS or empty (no target)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def fmt_bytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def timed_row(results: list[workload.ScenarioResult], latency: float, target_ratio: float | None) -> Row:
    """One row for a scenario run one or more times: the median run, and every run's time when repeated."""
    result = median_run(results)
    ratio = result.wall_s / latency
    label = (f"{result.leads_per_session} lead{'s' if result.leads_per_session > 1 else ''}" if result.sessions == 1
             else f"{result.sessions} sessions × {result.leads_per_session} leads at once")
    value = f"{result.wall_s:.2f} s = {ratio:.2f} × L"
    if len(results) > 1:
        value += f" (median of {len(results)}: " + ", ".join(f"{r.wall_s / latency:.2f}" for r in results) + ")"
    bad = sum(1 for r in results for run in r.runs
              if run["status"] != "COMPLETED" or run["progress"]["completed"] != r.leads_per_session)
    if bad:
        value += f" (!! {bad} runs not fully completed)"
    if target_ratio is None:
        return Row("dispatch to idle", label, value)
    return Row("dispatch to idle", label, value, f"≤ {target_ratio:g} × L", verdict(ratio <= target_ratio and not bad))


def median_run(results: list[workload.ScenarioResult]) -> workload.ScenarioResult:
    return sorted(results, key=lambda r: r.wall_s)[(len(results) - 1) // 2]


def machine() -> dict[str, str]:
    mem_kb = 0
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        uname = subprocess.run(["uname", "-srm"], capture_output=True, text=True).stdout.strip()
    except OSError:
        uname = " ".join((platform.system(), platform.release(), platform.machine()))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "nproc": str(cores),
        "cpu": cpu or "unknown",
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB" if mem_kb else "unknown",
        "python": platform.python_version() + f" ({sys.executable})",
        "uname": uname,
    }


def code_version() -> str:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    head = git("rev-parse", "--short", "HEAD")
    if not head:
        return "unknown (not a git checkout)"
    dirty = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()]
    return f"git {head}" + (f" with uncommitted changes to {len(dirty)} files" if dirty else "")


def command_line(argv: list[str]) -> str:
    direct = " ".join([".venv/bin/python -m bench.run", *map(shlex.quote, argv)])
    return f"make bench  (runs: {direct})" if os.environ.get("MAKELEVEL") else direct


# ------------------------------------------------------------------ parts
def static_part(rows: list[Row], notes: list[str], repeats: int) -> None:
    print("· import time of each handler (fresh interpreter, median of %d) …" % repeats, flush=True)
    layer = static.layer_size()
    not_shipped = _venv_only_imports(layer)
    results = static.import_times(repeats)
    starred = False
    for result in results:
        if result.error:
            rows.append(Row("cold start", f"import functions/{result.function}/app.py", f"error: {result.error}",
                            "≤ 300 ms", "MISS"))
            continue
        heavy = ", ".join(f"{pkg} {ms:.0f}{'*' if pkg in not_shipped else ''}" for pkg, ms in result.heaviest[:5])
        extra = sum(ms for pkg, ms in result.heaviest if pkg in not_shipped)
        without = f"; ≈ {result.median_ms - extra:.0f} ms without the * packages" if extra >= 1 else ""
        starred = starred or extra >= 1
        rows.append(Row("cold start", f"import functions/{result.function}/app.py",
                        f"{result.median_ms:.0f} ms (runs {', '.join(f'{r:.0f}' for r in result.runs_ms)}{without}); "
                        f"heaviest, ms: {heavy}",
                        "≤ 300 ms", verdict(result.median_ms <= 300)))
        print(f"  {result.function:14s} {result.median_ms:6.0f} ms   {heavy}", flush=True)
    if starred:
        notes.append("`*` after a package: it is in this venv (for moto and the tests) but not in the layer; an "
                     "optional import finds it here, and would not on Lambda.")
    notes.append("Heaviest packages: each package's own import time (summed self time from `-X importtime`), "
                 "in ms: the most that deferring that import out of the cold path could save.")
    for name, size in static.function_sizes().items():
        rows.append(Row("package size", f"functions/{name}/ (source)", fmt_bytes(size)))
    rows.append(Row("package size", "layer: layers/shared/outreach (source)", fmt_bytes(layer.source_bytes)))
    deps = sorted(layer.deps.items(), key=lambda kv: kv[1], reverse=True)
    rows.append(Row("package size", "layer: dependencies (installed, no .pyc)",
                    f"{fmt_bytes(sum(layer.deps.values()))}: " + ", ".join(f"{n} {fmt_bytes(s)}" for n, s in deps[:6])
                    + (f", {len(deps) - 6} more" if len(deps) > 6 else "")))
    rows.append(Row("package size", "layer: boto3 + botocore and what only they pull in",
                    f"{fmt_bytes(sum(layer.runtime_provided.values()))}: "
                    + ", ".join(f"{n} {fmt_bytes(s)}" for n, s in
                                sorted(layer.runtime_provided.items(), key=lambda kv: kv[1], reverse=True))))
    biggest_fn = max(static.function_sizes().values())
    total = layer.total_bytes + biggest_fn
    rows.append(Row("package size", "layer total (as pinned, with boto3) + largest function",
                    fmt_bytes(total), "≤ 250 MB (Lambda, unzipped)", verdict(total <= 250e6)))


def _venv_only_imports(layer: static.LayerSize) -> set[str]:
    """Top-level import names installed in this venv by distributions that the layer does not ship."""
    from importlib import metadata

    shipped = {static._canonical(n) for n in (*layer.deps, *layer.runtime_provided)}
    return {top for top, dists in metadata.packages_distributions().items()
            if not any(static._canonical(d) in shipped for d in dists)}


class _DropEMF:
    """stdout without Powertools' EMF metric blobs (the handlers run in this process and print them)."""

    def __init__(self, stream):
        self.stream, self.buffer, self.lock = stream, "", threading.Lock()

    def write(self, text: str) -> int:
        with self.lock:
            self.buffer += text
            while "\n" in self.buffer:
                line, self.buffer = self.buffer.split("\n", 1)
                if not line.startswith('{"_aws"'):
                    self.stream.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name):
        return getattr(self.stream, name)


def _metrics_namespace(notes: list[str]) -> None:
    """Give Powertools Metrics the namespace Lambda's environment has when a handler is imported.

    The local stack imports the handlers with only its own environment and scopes the template's
    variables to each invoke; Metrics reads its namespace at import. Without one, and with metrics
    disabled locally (never flushed), the 100th value of a metric in the process raises
    SchemaValidationError: the 100th dispatch answers 500 and the 100th completed lead fails.
    """
    variables = load_template().get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    namespace = variables.get("POWERTOOLS_METRICS_NAMESPACE")
    if namespace and not os.environ.get("POWERTOOLS_METRICS_NAMESPACE"):
        os.environ["POWERTOOLS_METRICS_NAMESPACE"] = str(namespace)
        notes.append(f"The bench sets POWERTOOLS_METRICS_NAMESPACE={namespace} (the template's value) before the local "
                     "stack imports the handlers, as Lambda's environment would: without it the local stack "
                     "answers 500 on the process's 100th dispatch and fails its 100th lead (Powertools Metrics "
                     "auto-flushes at 100 values and raises for a missing namespace).")


@contextmanager
def local_stack(env: dict[str, str], fake):
    """A fresh local stack with its HTTP front in this process, warmed up; stopped however the block ends (Ctrl-C
    included). For the data-model figures, which read its table through it, and for bench.profile."""
    from local.http_front import serve_in_background
    from local.stack import LocalStack
    from tests.client import ApiClient

    with tempfile.TemporaryDirectory(prefix="outreach-bench-") as state_dir:
        stack = server = None
        try:
            stack = LocalStack(state_dir=Path(state_dir), env=env).start()
            server, url = serve_in_background(stack)
            api = ApiClient(url, BENCH_KEY)
            workload.warm_up(api, fake)
            yield stack, api
        finally:
            fake.latency_s = 0.0  # whatever still runs finishes fast
            if server is not None:
                server.shutdown()
                server.server_close()
            if stack is not None:
                stack.stop()


@contextmanager
def served_stack(env: dict[str, str], fake):
    """`python -m local.serve` in a subprocess on a fresh state directory, warmed up; stopped however the block
    ends (Ctrl-C included). Yields the server (crash_load.Server) and a client of it."""
    from tests.client import ApiClient
    from tests.restart.crash_load import Server

    with tempfile.TemporaryDirectory(prefix="outreach-bench-") as state_dir:
        server = Server(Path(state_dir), fake.url, env={**env, "HOST": "127.0.0.1"}, api_key=BENCH_KEY)
        try:
            server.start()
            api = ApiClient(server.url, BENCH_KEY)
            workload.warm_up(api, fake)
            yield server, api
        finally:
            fake.latency_s = 0.0  # whatever still runs finishes fast
            server.stop()


def server_refusals(server, timeout_s: float = 30) -> Counter[str]:
    """The server's DynamoDB refusal counters since its start: SIGUSR1 makes it print them to its log."""
    from local.serve import REFUSALS_LINE

    def printed() -> list[str]:
        return [line for line in server.log_text().splitlines() if line.startswith(REFUSALS_LINE)]

    before = len(printed())
    os.kill(server.proc.pid, signal.SIGUSR1)
    deadline = time.monotonic() + timeout_s
    while len(lines := printed()) <= before:
        if time.monotonic() > deadline or server.proc.poll() is not None:
            raise workload.BenchError(f"the server printed no refusal counters: {server.log_text()[-2000:]}")
        time.sleep(0.05)
    return Counter(json.loads(lines[-1][len(REFUSALS_LINE):]))


def stack_env(fake_url: str) -> dict[str, str]:
    from local.stack import LOCAL_OVERRIDES

    # This shell's LLM and run settings stay out: the stack sees only what the bench sets.
    env = {k: v for k, v in os.environ.items() if k not in (*LOCAL_OVERRIDES, "LEAD_CONCURRENCY", "LOCAL_API_KEYS")}
    env.update({
        "LLM_PROVIDER": "openai",
        "OPENAI_API_KEY": "bench",
        "OPENAI_BASE_URL": fake_url,
        "OPENAI_MODEL": MODEL,
        "LOCAL_API_KEYS": f"bench:{BENCH_KEY}",
    })  # LEAD_CONCURRENCY stays unset: the template's default applies
    return env


def stack_part(args, rows: list[Row], notes: list[str], diag: list[str]) -> None:
    from tests.fakes.openai_server import FakeOpenAI

    L = args.latency
    params = parameter_defaults(load_template())
    concurrency = int(params["LeadConcurrency"])
    workspace_cap = int(params.get("WorkspaceLlmConcurrency") or 0)  # all sessions here share one workspace
    _metrics_namespace(notes)
    fake = FakeOpenAI(latency_s=L).start()
    env = stack_env(fake.url)
    stdout, sys.stdout = sys.stdout, _DropEMF(sys.stdout)
    try:
        # (name, sessions, leads per session, target in L, times run: the cheap ones thrice, median reported)
        scenarios = [("1", 1, 1, None, 3), ("10", 1, 10, 1.3, 3), ("40", 1, 40, None, 1)]
        if not args.quick:
            scenarios.append(("100", 1, 100, 2.0, 1))
        scenarios.append(("5x8", 5, 8, 1.5, 1))
        if not args.quick:
            scenarios.append(("20x10", 20, 10, 3.0, 1))
        phase = time.monotonic()
        diag.append("| scenario | dispatch answer (max) | first LLM call | LLM calls, max in flight | last LLM answer "
                    "| after last answer | lower bound (waves × L) | overhead per lead | slowest / fastest session |")
        diag.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        token_rows: list[Row] = []
        conflict_rows: list[Row] = []
        print("· dispatch to idle, each scenario on a fresh `python -m local.serve` (warmed up by one small run)",
              flush=True)
        for name, sessions, leads, target, repeats in scenarios:
            print(f"  {sessions} × {leads} leads at L = {L:g} s …", flush=True)
            with served_stack(env, fake) as (server, api):
                before = server_refusals(server)
                results = [workload.run_scenario(api, fake, L, name, sessions, leads) for _ in range(repeats)]
                refused = dict(server_refusals(server) - before)
                if name == "10":
                    token_part(server.state_dir, results[0], token_rows, notes)
                if name in ("100", "20x10"):
                    detail = ", ".join(f"{k} {v}" for k, v in sorted(refused.items())) or "none"
                    conflict_rows.append(Row(
                        "contention", f"DynamoDB writes refused during {sessions} × {leads} leads",
                        f"{sum(refused.values())} ({detail})", "—", "—"))
            result = median_run(results)
            row = timed_row(results, L, target)
            rows.append(row)
            print(f"    {row.value} {row.target} {row.status}", flush=True)
            waves = max(math.ceil(leads / concurrency),
                        math.ceil(sessions * leads / workspace_cap) if workspace_cap else 1)
            overhead_ms = (result.wall_s - waves * L) / (sessions * leads) * 1000
            diag.append(
                f"| {row.figure} | {max(result.dispatch_ms):.0f} ms | {result.first_call_s:.2f} s | "
                f"{result.llm_calls}, {result.max_in_flight} | {result.last_answer_s:.2f} s | "
                f"{result.wall_s - result.last_answer_s:.2f} s | {waves} × L = {waves * L:.2f} s | "
                f"{overhead_ms:.0f} ms | {max(result.per_session_s):.2f} / {min(result.per_session_s):.2f} s |"
            )
        rows.extend(token_rows)
        rows.extend(conflict_rows)
        if conflict_rows:
            notes.append("DynamoDB writes refused: conditional writes that lost (claims, leases, write-once results), "
                         "counted by the server (`local/dynamodb_writes.py`) and printed to its log on SIGUSR1; the "
                         "bench reads them after the warm-up and after the timed runs and reports the difference.")
        scenario_s, phase = time.monotonic() - phase, time.monotonic()

        calls = 100 if args.quick else 500
        print(f"· dispatch latency: {calls} generate-examples calls, fake latency 0, on a fresh "
              "`python -m local.serve` …", flush=True)
        with served_stack(env, fake) as (_server, api):
            d = workload.dispatch_latency(api, fake, calls)
        p50, p99 = d.pct(50), d.pct(99)
        what = (f"POST generate-examples ({d.leads_per_call} lead{'s' if d.leads_per_call > 1 else ''}), "
                f"{len(d.latencies_ms)} calls, each on a quiet stack")
        rows.append(Row("dispatch answer", f"p50, {what}", f"{p50:.1f} ms", "≤ 25 ms", verdict(p50 <= 25)))
        rows.append(Row("dispatch answer", "p99", f"{p99:.1f} ms", "≤ 100 ms", verdict(p99 <= 100)))
        rows.append(Row("dispatch answer", "mean, max",
                        f"{d.mean:.1f} ms, {max(d.latencies_ms):.1f} ms"
                        + (f"; {d.refused} calls refused (!!)" if d.refused else "")))
        print(f"    p50 {p50:.1f} ms  p99 {p99:.1f} ms  mean {d.mean:.1f} ms  max {max(d.latencies_ms):.1f} ms",
              flush=True)
        notes.append(f"Bench phases: timed scenarios with their stacks and set-up {scenario_s:.0f} s, "
                     f"{calls} dispatch calls {time.monotonic() - phase:.0f} s.")
        print("· data model: one session grown by top-ups and chat turns, a campaign of many sessions …", flush=True)
        fake.latency_s = 0.0
        with local_stack(env, fake) as (stack, api):
            sizes = dict(top_ups=2, turns=20, listed=120) if args.quick else {}
            for figure, value, target, met in data_model.measure(stack, api, **sizes):
                rows.append(Row("data model", figure, value, target, "" if met is None else verdict(met)))
                print(f"    {figure}: {value}", flush=True)
    finally:
        fake.stop()
        sys.stdout = stdout


def token_part(state_dir: Path, result: workload.ScenarioResult, rows: list[Row], notes: list[str]) -> None:
    items = workload.lead_items(state_dir, result.runs[0]["id"])
    report = tokens.analyse(items, result.requests, MODEL)
    section = f"tokens ({result.leads_per_session}-lead run)"
    rows.append(Row(section, "input tokens per lead",
                    f"mean {report.mean_in:.0f} (min {min(report.input_tokens)}, max {max(report.input_tokens)})"))
    rows.append(Row(section, "output tokens per lead",
                    f"mean {report.mean_out:.0f} (min {min(report.output_tokens)}, max {max(report.output_tokens)})"))
    rows.append(Row(section, "shared prefix / input, stored per lead (shared_prefix_chars / prompt_chars)",
                    f"min {min(report.share_stored):.1%}, mean {statistics.fmean(report.share_stored):.1%}",
                    "≥ 70% of each call", verdict(min(report.share_stored) >= 0.70)))
    rows.append(Row(section, "shared prefix / input, observed (common prefix of all calls' messages at the fake)",
                    f"min {min(report.share_observed):.1%}, mean {statistics.fmean(report.share_observed):.1%} "
                    f"(common prefix {report.common_prefix_chars} chars ≈ {report.cacheable_prefix_tokens} tokens)",
                    "≥ 70% of each call", verdict(min(report.share_observed) >= 0.70)))
    p = report.prices
    price = (f"{report.model} at ${p['input']:.2f} / ${p['cached_input']:.3g} cached / ${p['output']:.2f} out "
             "per 1M tokens")
    rows.append(Row(section, f"cost per lead, no prompt caching ({price})",
                    f"{report.cost_no_cache_usd * 100:.4f} ¢", "≤ 0.1 ¢",
                    verdict(report.cost_no_cache_usd * 100 <= 0.1)))
    cache_note = ("prefix cached on all but the first call" if tokens.cached_tokens(report.cacheable_prefix_tokens)
                  else f"prefix {report.cacheable_prefix_tokens} tokens < {tokens.CACHE_MIN_TOKENS}: nothing cached")
    rows.append(Row(section, f"cost per lead, with prompt caching ({cache_note})",
                    f"{report.cost_cached_usd * 100:.4f} ¢", "≤ 0.1 ¢", verdict(report.cost_cached_usd * 100 <= 0.1)))
    shape = ", ".join(f"{role} {chars}" for role, chars in tokens.describe_prompt(result.requests[0]))
    notes.append(f"Tokens are the fake server's count, characters / {tokens.CHARS_PER_TOKEN} (no tokenizer); "
                 f"one email call's messages, in characters: {shape}. The framework is the fake's small "
                 "FrameworkReply, so a real framework makes the shared part (and the share) larger.")


def engine_part(args, rows: list[Row], notes: list[str], diag: list[str]) -> None:
    """`make serve` itself, as a subprocess on its SQLite state: kill -9 under load, then a soak of 16 clients."""
    from bench import soak
    from tests.fakes.openai_server import FakeOpenAI
    from tests.restart.crash_load import crash_under_load

    print("· crash: kill -9 of local.serve under 8 writing clients, restart, check every acknowledged write …",
          flush=True)
    fake = FakeOpenAI(latency_s=0.0).start()
    try:
        with tempfile.TemporaryDirectory(prefix="outreach-crash-") as state_dir:
            crash = crash_under_load(Path(state_dir), fake.url, clients=8, kill_after_acks=300)
    finally:
        fake.stop()
    rows.append(Row("durability", "kill -9 of `make serve` under load: acknowledged writes lost",
                    f"{len(crash.lost)} of {crash.acknowledged} ({crash.sessions} sessions; {len(crash.errors)} "
                    f"unexpected answers before the kill)", "0", verdict(not crash.lost and not crash.errors)))
    print(f"    {len(crash.lost)} of {crash.acknowledged} acknowledged writes lost", flush=True)

    items = 5_000 if args.quick else TABLE_ITEMS
    print(f"· table size: a server holding {items:,} more items against an empty one, calls alternated …", flush=True)
    empty, large = table_size.measure(items, rounds=20 if args.quick else 40,
                                      progress=lambda line: print(line, flush=True))
    for call, value, ratio in table_size.rows(empty, large):
        rows.append(Row("table size", f"{call}: p50 with {items:,} items in the table (same workspace and "
                        f"campaign) against an empty table, {len(large.ms[call])} calls each", value,
                        "≤ 1.25 × empty", verdict(ratio <= 1.25)))
    for figure, value in table_size.start_rows(empty, large, items):
        rows.append(Row("table size", f"`make serve` {figure}: with {items:,} items in the table against an empty "
                        "table", value))

    seconds = args.soak_seconds
    interval = 60.0 if seconds >= 180 else max(5.0, seconds / 6)
    print(f"· soak: {SOAK_CLIENTS} clients for {seconds:g} s against local.serve (BENCH_SOAK_S) …", flush=True)
    result = soak.soak(seconds, SOAK_CLIENTS, interval, prefill_items=args.soak_prefill)
    p50_dev, p95_dev = result.flatness()
    first, last = result.intervals[0], result.intervals[-1]
    rss_growth = (last.rss_mb - first.rss_mb) / first.rss_mb if first.rss_mb else float("nan")
    what = f"{SOAK_CLIENTS} clients, {seconds:g} s, {result.requests} requests, {result.cycles} client cycles"
    rows.append(Row("soak", f"5xx answers ({what})", str(len(result.server_errors)), "0",
                    verdict(not result.server_errors)))
    rows.append(Row("soak", "sessions left claimed, examples missing or out of order, unexpected answers",
                    str(len(result.problems)), "0", verdict(not result.problems)))
    rows.append(Row("soak", f"p50 / p95 per {interval:g} s interval, largest deviation from their median",
                    f"{p50_dev:.0%} / {p95_dev:.0%}", "≤ 25%", verdict(max(p50_dev, p95_dev) <= 0.25)))
    rows.append(Row("soak", "server RSS, last interval against the first",
                    f"{first.rss_mb:.0f} → {last.rss_mb:.0f} MB ({rss_growth:+.0%}); table {first.items:,} → "
                    f"{last.items:,} items", "within 20%", verdict(abs(rss_growth) <= 0.20)))
    kept = (last.rss_mb - result.restart_rss_mb) / result.restart_rss_mb if result.restart_rss_mb else float("nan")
    rows.append(Row("soak", "server RSS, last interval against a fresh server started on the same final table",
                    f"{last.rss_mb:.0f} MB against {result.restart_rss_mb:.0f} MB ({kept:+.0%}): what the long-running "
                    "server holds beyond its data", "—", "—"))
    diag.extend(["", f"Soak ({what}; prefilled items: {result.prefill:,}):", ""] + soak.report(result))
    for line in (result.server_errors + result.problems)[:10]:
        notes.append(f"soak: {line}")


SOAK_CLIENTS = 16
TABLE_ITEMS = 20_000
# The soak: 5 minutes, on a table that grows past 20,000 items while it runs (16 clients write about
# 2,000 to 2,700 items a minute).
SOAK_S, QUICK_SOAK_S = 300, 60
SOAK_PREFILL = 12_000


def _env_number(name: str) -> float | None:
    value = os.environ.get(name)
    return float(value) if value else None


# ----------------------------------------------------------------- report
HOW_TO_READ = """\
**How to read.** L is the fake LLM's fixed answer time; every timed figure is the wall time from sending
`POST …/generate-examples` to the session's `task_status` reading null again (polled every 20 ms over
HTTP), divided by L. An ideal service writes all leads in parallel, so N leads take about 1 × L plus the
service's own overhead (claim, run and lead items, Step Functions start, Map, one worker per lead, aggregate,
release); leads beyond the Map's MaxConcurrency (`LeadConcurrency`), or beyond the workspace's cap on LLM calls in
flight (`WorkspaceLlmConcurrency`, where the template has it; every session here is in one workspace), wait
for a free slot, so the lower bound is that many waves × L. Each scenario, and the dispatch series, runs on a
fresh `python -m local.serve` (its own process and SQLite state, as `make serve` runs) warmed up by one small
run, so none pays for the state an earlier one left behind; the fake LLM and the client run in the bench's
process. The data-model figures use a stack in the bench's own process (they read its table directly). The
whole stack is one Python process on moto, so the overhead here is CPU- and GIL-bound on this
machine's cores; on AWS each Lambda has its own CPU, and Step Functions
adds its own transition latency instead. The dispatch figures are the HTTP round trip of the dispatch call
alone (fake latency 0, one lead, each call made once the previous run has finished, since a run
executing in the server's process would take the dispatch's CPU; the dispatch times of the timed scenarios, with
more leads and concurrent calls, are in "Where the time goes"). Import time is measured in a fresh interpreter with
the layer on the path, after one warm-up import (bytecode cached): a proxy for the init part of a cold
start; a 512 MB arm64 Lambda has a fraction of a vCPU, so expect it to be slower there. Sizes are
unzipped source without `.pyc`; the layer's dependencies are the venv's installed files of the
requirements and their dependencies (this machine's platform wheels, not arm64). Cost uses the list prices
in `bench/tokens.py`; "with caching" assumes the prefix common to every call of the run is cached on all
calls but the first, which OpenAI only does for prefixes of 1024 tokens or more."""


def render(rows: list[Row], notes: list[str], diag: list[str], meta: dict[str, str]) -> str:
    out = ["# Benchmark results", ""]
    out += [f"- command: `{meta['command']}`", f"- date: {meta['date']}",
            f"- machine: {meta['nproc']} cores ({meta['cpu']}), {meta['memory']} memory, `{meta['uname']}`",
            f"- python: {meta['python']}", f"- code: {meta['code']}",
            f"- fake LLM latency L = {meta['latency']} s; model priced: {MODEL}; "
            f"{meta['concurrency']} (template defaults)",
            f"- mode: {meta['mode']}; total bench time {meta['elapsed']}", ""]
    out += ["| section | figure | value | target | result |", "| --- | --- | --- | --- | --- |"]
    for r in rows:
        out.append(f"| {r.section} | {r.figure} | {r.value} | {r.target or '—'} | {r.status or '—'} |")
    missed = [r for r in rows if r.status == "MISS"]
    out += ["", f"**{sum(r.status == 'PASS' for r in rows)} PASS, {len(missed)} MISS**"
            + (": " + "; ".join(f"{r.section}: {r.figure}" for r in missed) if missed else "."), ""]
    if len(diag) > 2:
        out += ["## Where the time goes", "",
                "Times from sending the dispatch(es): the slowest dispatch answer (all sent at once in the "
                "multi-session scenarios), when the fake saw the first email call, how many calls it got and the "
                "most it held at once, when it answered the last (arrival + L), and how long after that the session "
                "read idle (aggregate, release, polling). Overhead per lead = (wall − waves × L) / leads: the "
                "service's own time, spread over the leads.", ""]
        out += diag + [""]
    profile = ROOT / "bench" / "PROFILE.md"  # written from `python -m bench.profile` runs, not by this bench
    if profile.exists():
        out += [profile.read_text().rstrip(), ""]
    out += ["## Notes", ""] + [f"- {n}" for n in notes]
    out += ["", textwrap.fill(" ".join(HOW_TO_READ.split()), 110), ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=float(os.environ.get("BENCH_LATENCY", "1.0")),
                        help="fake LLM latency L in seconds (default 1.0, or $BENCH_LATENCY)")
    parser.add_argument("--quick", action="store_true",
                        help="smaller: no 100-lead and 20 × 10 runs, 100 dispatch calls instead of 500")
    parser.add_argument("--out", default=str(ROOT / "bench" / "RESULTS.md"), help="where to write the results")
    parser.add_argument("--soak-seconds", type=float, default=_env_number("BENCH_SOAK_S"),
                        help=f"how long the soak runs (default {SOAK_S} s, {QUICK_SOAK_S} s with --quick, or "
                        "$BENCH_SOAK_S)")
    parser.add_argument("--soak-prefill", type=int, default=_env_number("BENCH_SOAK_PREFILL"),
                        help=f"session items put into the table before the soak (default {SOAK_PREFILL:,}, so the "
                        "table grows past 20,000 items during it; none with --quick; or $BENCH_SOAK_PREFILL)")
    args = parser.parse_args(argv)
    if args.soak_seconds is None:
        args.soak_seconds = QUICK_SOAK_S if args.quick else SOAK_S
    if args.soak_prefill is None:
        args.soak_prefill = 0 if args.quick else SOAK_PREFILL
    args.soak_prefill = int(args.soak_prefill)
    if args.latency <= 0:
        parser.error("--latency must be above 0 (times are reported as ratios to it)")

    started = time.monotonic()
    load_at_start = os.getloadavg()[0]
    code = code_version()  # at the start: the tree may change while the bench runs
    rows: list[Row] = []
    notes: list[str] = []
    diag: list[str] = []
    try:
        static_part(rows, notes, repeats=3)
        notes.append(f"Bench phases: import times and sizes {time.monotonic() - started:.0f} s.")
        stack_part(args, rows, notes, diag)
        engine_part(args, rows, notes, diag)
    except KeyboardInterrupt:
        print("\ninterrupted: the stack was stopped; no results written", file=sys.stderr)
        return 130
    notes.append(f"Load average (1 min) of this machine: {load_at_start:.1f} at the start, {os.getloadavg()[0]:.1f} at "
                 f"the end, on {machine()['nproc']} cores: whatever else runs shares the CPU, and every timing here "
                 "(import times included) stretches with it.")
    meta = {
        **machine(),
        "command": command_line(argv),
        "code": code,
        "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "latency": f"{args.latency:g}",
        "concurrency": ", ".join(f"{k} = {v}" for k, v in parameter_defaults(load_template()).items()
                                 if k in ("LeadConcurrency", "WorkspaceLlmConcurrency")),
        "mode": "quick" if args.quick else "full",
        "elapsed": f"{time.monotonic() - started:.0f} s",
    }
    text = render(rows, notes, diag, meta)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print("\n" + text)
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
