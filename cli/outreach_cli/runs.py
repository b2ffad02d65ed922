"""Following runs: the long poll, a token cache for runs this CLI started, and the live progress bar."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from outreach_cli.api import Api

FINAL = ("COMPLETED", "FAILED", "CANCELED")
FALLBACK_POLL_S = 2.0  # only for a server without long polling (no run `version`)


def _cache_file() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "outreach" / "run-tokens.json"


def remember_token(run_id: str, token: str) -> None:
    """Keep the run's read token (short-lived) so `outreach runs show|watch <runId>` work without --token."""
    path = _cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tokens = json.loads(path.read_text()) if path.exists() else {}
        tokens = dict(list(tokens.items())[-199:])  # a bounded cache
        tokens[run_id] = token
        path.write_text(json.dumps(tokens))
        path.chmod(0o600)
    except (OSError, ValueError):
        pass  # a cache, nothing more


def remembered_token(run_id: str) -> str | None:
    try:
        return json.loads(_cache_file().read_text()).get(run_id)
    except (OSError, ValueError):
        return None


def follow(api: Api, run_id: str, token: str, on_change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Call ``on_change`` with each new state of the run until it ends; returns the final run."""
    version: int | None = None
    while True:
        run = api.get_run(run_id, token, after=version)
        on_change(run)
        if run.get("status") in FINAL:
            return run
        if isinstance(run.get("version"), int):
            version = run["version"]  # the server answers as soon as the run changes past it
        else:
            time.sleep(FALLBACK_POLL_S)


def needing_review(run: dict[str, Any]) -> int:
    summary = run.get("review")
    if isinstance(summary, dict) and "needs_review" in summary:
        return int(summary["needs_review"])
    return sum(1 for e in run.get("examples") or [] if (e.get("review") or {}).get("verdict") == "needs_review")


class ProgressBar:
    """One bar over one or more consecutive runs: done, failed, needing review, elapsed."""

    def __init__(self, total: int, console: Console, enabled: bool = True):
        self.progress = Progress(
            TextColumn("[bold]emails"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[red]{task.fields[failed]} failed"),
            TextColumn("[yellow]{task.fields[review]} to review"),
            TimeElapsedColumn(),
            console=console,
            disable=not enabled,
        )
        self.task = self.progress.add_task("emails", total=total, failed=0, review=0)
        self.before = {"done": 0, "failed": 0, "review": 0}  # from runs already finished

    def __enter__(self) -> ProgressBar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def show(self, run: dict[str, Any]) -> None:
        progress = run.get("progress") or {}
        done = int(progress.get("completed", 0)) + int(progress.get("failed", 0))
        self.progress.update(
            self.task,
            completed=self.before["done"] + done,
            failed=self.before["failed"] + int(progress.get("failed", 0)),
            review=self.before["review"] + needing_review(run),
        )

    def finished(self, run: dict[str, Any]) -> None:
        self.show(run)
        progress = run.get("progress") or {}
        total = int(progress.get("total", 0))
        self.before["done"] += total
        self.before["failed"] += int(progress.get("failed", 0)) + (
            total - int(progress.get("completed", 0)) - int(progress.get("failed", 0))
        )
        self.before["review"] += needing_review(run)
