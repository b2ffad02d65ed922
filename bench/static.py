"""Figures that need no running stack: each handler's import time, and package sizes."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from local.cfn import ROOT

LAYER = ROOT / "layers" / "shared"
FUNCTIONS = ROOT / "functions"
# Shipped by the Lambda python runtime (the layer pins its own copy anyway): reported apart.
RUNTIME_PROVIDED = ("boto3", "botocore")
MARK = "BENCH-IMPORT-START"

_IMPORT_CODE = f"""
import importlib.util, sys, time
sys.path[:0] = [sys.argv[1], sys.argv[2]]
sys.stderr.write("{MARK}\\n"); sys.stderr.flush()
t0 = time.perf_counter()
spec = importlib.util.spec_from_file_location("app", sys.argv[3])
module = importlib.util.module_from_spec(spec)
sys.modules["app"] = module
spec.loader.exec_module(module)
assert callable(getattr(module, "lambda_handler"))
print((time.perf_counter() - t0) * 1000)
"""


def _clean_env() -> dict[str, str]:
    # What the function's environment holds that matters at import; nothing from this shell leaks in.
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "outreach",
        "POWERTOOLS_METRICS_NAMESPACE": "Outreach",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "LLM_PROVIDER": "openai",
        "TABLE_NAME": "bench",
    }


@dataclass
class ImportResult:
    function: str
    runs_ms: list[float]
    heaviest: list[tuple[str, float]]  # (top-level package, ms of its own import work), heaviest first
    error: str = ""

    @property
    def median_ms(self) -> float:
        return statistics.median(self.runs_ms) if self.runs_ms else float("nan")


def _import_once(app: Path, importtime: bool = False) -> tuple[float, str]:
    cmd = [sys.executable, *(["-X", "importtime"] if importtime else []), "-c", _IMPORT_CODE,
           str(LAYER), str(app.parent), str(app)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_clean_env(), cwd=str(app.parent), timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}")
    return float(proc.stdout.strip().splitlines()[-1]), proc.stderr


_LINE = re.compile(r"^import time:\s*(\d+)\s*\|\s*(\d+)\s*\|(\s*)(\S+)\s*$")


def heaviest_packages(importtime_stderr: str) -> list[tuple[str, float]]:
    """Self time of every module imported by the handler, summed per top-level package."""
    _, _, after = importtime_stderr.partition(MARK)
    per_package: dict[str, float] = defaultdict(float)
    for line in after.splitlines():
        match = _LINE.match(line)
        if match:
            per_package[match.group(4).split(".")[0]] += int(match.group(1)) / 1000
    return sorted(per_package.items(), key=lambda kv: kv[1], reverse=True)


def import_times(repeats: int = 3) -> list[ImportResult]:
    results = []
    for app in sorted(FUNCTIONS.glob("*/app.py")):
        name = app.parent.name
        try:
            _import_once(app)  # warm the bytecode caches: a deployed package ships compiled or compiles once
            runs = [_import_once(app)[0] for _ in range(repeats)]
            _, stderr = _import_once(app, importtime=True)
            results.append(ImportResult(name, runs, heaviest_packages(stderr)))
        except Exception as error:  # report it, keep going
            results.append(ImportResult(name, [], [], error=str(error)))
    return results


# ------------------------------------------------------------------ sizes
def _tree_bytes(path: Path) -> tuple[int, int]:
    total = files = 0
    for p in path.rglob("*"):
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc":
            total += p.stat().st_size
            files += 1
    return total, files


def function_sizes() -> dict[str, int]:
    return {d.name: _tree_bytes(d)[0] for d in sorted(FUNCTIONS.iterdir()) if d.is_dir()}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(lines: list[str]):
    from packaging.requirements import Requirement

    out = []
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            out.append(Requirement(line))
    return out


def _dependency_closure(roots) -> dict[str, set[str]]:
    """Every distribution the roots pull in (markers evaluated here, extras followed), with who pulled it."""
    from packaging.requirements import Requirement

    pulled_by: dict[str, set[str]] = defaultdict(set)
    todo = [(req, _canonical(req.name)) for req in roots]
    seen: set[tuple[str, frozenset]] = set()
    while todo:
        req, root = todo.pop()
        name = _canonical(req.name)
        key = (name, frozenset(req.extras))
        pulled_by[name].add(root)
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue
        for spec in dist.requires or []:
            sub = Requirement(spec)
            envs = [{"extra": e} for e in req.extras] or [{"extra": ""}]
            if sub.marker is None or any(sub.marker.evaluate(env) for env in envs):
                todo.append((sub, root))
    return pulled_by


def _dist_bytes(name: str) -> int:
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return 0
    total = 0
    for f in dist.files or []:
        if "__pycache__" in f.parts or str(f).endswith(".pyc") or ".dist-info" in str(f.parts[0]):
            continue
        p = Path(f.locate())
        if p.is_file():
            total += p.stat().st_size
    return total


@dataclass
class LayerSize:
    source_bytes: int
    deps: dict[str, int]  # distribution -> installed bytes (no .pyc, no dist-info)
    runtime_provided: dict[str, int]  # reached only through boto3/botocore

    @property
    def shipped_bytes(self) -> int:
        return self.source_bytes + sum(self.deps.values())

    @property
    def total_bytes(self) -> int:
        return self.shipped_bytes + sum(self.runtime_provided.values())


def layer_size() -> LayerSize:
    reqs = _requirements((LAYER / "requirements.txt").read_text().splitlines())
    pulled_by = _dependency_closure(reqs)
    source, _ = _tree_bytes(LAYER / "outreach")
    deps, provided = {}, {}
    for name, roots in sorted(pulled_by.items()):
        size = _dist_bytes(name)
        if roots <= set(RUNTIME_PROVIDED) or name in RUNTIME_PROVIDED:
            provided[name] = size
        else:
            deps[name] = size
    return LayerSize(source, deps, provided)
