"""Where the local stack's CPU goes: one timed scenario, sampled by py-spy over every thread.

    py-spy record -r 250 -f raw -o /tmp/profile.txt -- .venv/bin/python -m bench.profile --scenario 100
    .venv/bin/python -m bench.profile --summarize /tmp/profile.txt [--top 25]

cProfile is not used: on Python 3.12 it registers one process-wide monitor and times calls as if on one
thread, so the stack's hundreds of threads (one per request, execution and Map iteration) would be
interleaved into nonsense. py-spy samples each thread's stack. The first command runs the scenario (stack
start-up and the sessions' set-up are sampled too); the second leaves those out and prints the functions
with the most samples: "self" where the function itself ran, "total" where it was on the stack. With
`py-spy record --gil` only the thread holding the GIL is sampled: in this GIL-bound process, the CPU.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

# Stacks of the start-up and warm-up, not of the measured scenario.
# py-spy 0.4 names a method without its class ("start (local/stack.py:12)"), earlier versions with it.
SET_UP = ("LocalStack.start (", "start (local/stack.py:", "local_stack (bench/run.py:", "warm_up (",
          "sessions_with_framework (", "_find_and_load (")
SCENARIOS = {"100": (1, 100), "20x10": (20, 10), "5x8": (5, 8), "10": (1, 10)}


def summarize(path: str, top: int) -> str:
    """Top functions by self and total samples from py-spy's raw (collapsed stack) output."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    with open(path) as raw:
        lines = raw.read().splitlines()
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or any(marker in stack for marker in SET_UP):
            continue
        n = int(count)
        samples += n
        frames = [f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].split("site-packages/")[-1] + ")"
                  if " (" in f else f for f in stack.split(";")]
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    out = [f"{samples} samples", "", "| self | function (file) |", "| --- | --- |"]
    out += [f"| {n / samples:.1%} | `{name}` |" for name, n in own.most_common(top)]
    out += ["", "| total | function (file) |", "| --- | --- |"]
    out += [f"| {n / samples:.1%} | `{name}` |" for name, n in total.most_common(top * 2)
            if not name.startswith(("run (threading", "_bootstrap", "<module>"))][:top]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="100", choices=sorted(SCENARIOS) + ["dispatch"],
                        help="sessions x leads at once, or 'dispatch': 100 one-lead dispatches, each on a quiet stack")
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--summarize", metavar="RAW", help="print the top entries of a py-spy raw file")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    if args.summarize:
        print(summarize(args.summarize, args.top))
        return 0

    from bench import run, workload
    from tests.fakes.openai_server import FakeOpenAI

    notes: list[str] = []
    run._metrics_namespace(notes)
    fake = FakeOpenAI(latency_s=args.latency).start()
    sessions, leads = SCENARIOS.get(args.scenario, (0, 0))
    try:
        with run.local_stack(run.stack_env(fake.url), fake) as (_stack, api):
            from moto.core.model_instances import reset_model_data

            reset_model_data()  # moto's registry of every instance it built (the stack also prunes it itself)
            started = time.process_time()
            if args.scenario == "dispatch":
                d = workload.dispatch_latency(api, fake, 100)
                print(f"dispatch: p50 {d.pct(50):.1f} ms, p99 {d.pct(99):.1f} ms over {len(d.latencies_ms)} calls, "
                      f"process CPU {(time.process_time() - started) * 10:.0f} ms a call (run included)",
                      file=sys.stderr)
                return 0
            result = workload.run_scenario(api, fake, args.latency, args.scenario, sessions, leads)
            cpu_s = time.process_time() - started
    finally:
        fake.stop()
    print(f"{sessions} × {leads} leads: wall {result.wall_s:.2f} s = {result.wall_s / args.latency:.2f} × L, "
          f"process CPU {cpu_s:.2f} s ({cpu_s / (sessions * leads) * 1000:.0f} ms a lead, set-up included)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
