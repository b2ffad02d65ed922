"""`make bench`: wall times, dispatch latency, import times, package sizes, tokens and cost per lead.

Not part of the test suite. Entry point: ``python -m bench.run`` (see bench/run.py).
"""
