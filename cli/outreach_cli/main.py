"""The `outreach` command: sessions, chat, runs, and sample emails for a file of leads.

Exit codes: 0 everything written, 1 some emails failed, 2 usage error (bad flags, bad file or rows),
3 API error (refused or unreachable), 130 detached with Ctrl-C (the run goes on).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from outreach_cli import leads as lead_files
from outreach_cli import output
from outreach_cli.api import Api, ApiError
from outreach_cli.runs import ProgressBar, follow, remember_token, remembered_token

MAX_LEADS_PER_RUN = 100
OK, SOME_FAILED, USAGE, API_ERROR, DETACHED = 0, 1, 2, 3, 130

app = typer.Typer(help="Client for the outreach service. Config: OUTREACH_API_URL, OUTREACH_API_KEY.",
                  no_args_is_help=True, add_completion=False)
sessions_app = typer.Typer(help="Create, list, show and delete chat sessions.", no_args_is_help=True)
runs_app = typer.Typer(help="Show, watch and cancel runs.", no_args_is_help=True)
app.add_typer(sessions_app, name="sessions")
app.add_typer(runs_app, name="runs")

console = Console(soft_wrap=True)  # emails and ids print whole, for copying
errors = Console(stderr=True, soft_wrap=True)


class Config:
    api: Api
    as_json: bool


config = Config()


@app.callback()
def settings(
    api_url: Annotated[str, typer.Option(envvar="OUTREACH_API_URL", help="The service's base URL.")] = (
        "http://127.0.0.1:3000"
    ),
    api_key: Annotated[str | None, typer.Option(envvar="OUTREACH_API_KEY", help="The workspace's API key.",
                                                show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts; no progress bar.")] = False,
) -> None:
    config.api = Api(api_url, api_key)
    config.as_json = as_json


def emit(data: Any, human: Any = None) -> None:
    if config.as_json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    elif human is not None:
        console.print(human)


def fail(error: ApiError) -> typer.Exit:
    errors.print(f"[red]error:[/red] {error}")
    return typer.Exit(API_ERROR)


# ------------------------------------------------------------------ sessions
@sessions_app.command("create")
def sessions_create(
    campaign: Annotated[str, typer.Option(help="The campaign id.")],
    node: Annotated[str, typer.Option(help="The campaign node (email step) id.")],
    title: Annotated[str | None, typer.Option(help="A title for people.")] = None,
) -> None:
    """Create a chat session; prints its id."""
    try:
        session = config.api.create_session(campaign, node, title)
    except ApiError as error:
        raise fail(error) from None
    emit(session, session["id"])


@sessions_app.command("list")
def sessions_list(campaign: Annotated[str, typer.Option(help="The campaign id.")]) -> None:
    """A campaign's sessions, oldest first."""
    try:
        found = config.api.list_sessions(campaign)
    except ApiError as error:
        raise fail(error) from None
    lines = [f"{s['id']}  {s.get('task_status') or 'idle':<20} v{s.get('framework_version', 0)}  {s.get('title') or ''}"
             for s in found]
    emit(found, "\n".join(lines) or "no sessions")


@sessions_app.command("show")
def sessions_show(session_id: str) -> None:
    """A session: its framework, its last messages and its examples."""
    try:
        session = config.api.get_session(session_id)
    except ApiError as error:
        raise fail(error) from None
    emit(session, _session_text(session))


@sessions_app.command("delete")
def sessions_delete(session_id: str) -> None:
    """Delete a session and everything in it."""
    try:
        out = config.api.delete_session(session_id)
    except ApiError as error:
        raise fail(error) from None
    emit(out, f"deleted {session_id}")


def _session_text(session: dict[str, Any]) -> str:
    lines = [f"[bold]{session.get('title') or session['id']}[/bold]  ({session.get('task_status') or 'idle'})"]
    lines += _framework_lines(session)
    examples = session.get("generated_examples") or []
    if examples:
        lines.append(f"{len(examples)} examples; first: {examples[0].get('subject') or examples[0].get('error')}")
    return "\n".join(lines)


def _framework_lines(session: dict[str, Any]) -> list[str]:
    if not session.get("skeleton"):
        return ["no framework yet"]
    return [
        f"framework v{session.get('framework_version', 0)}",
        f"  skeleton: {json.dumps(session['skeleton'], ensure_ascii=False)}",
        f"  subject:  {session.get('draft_subject') or ''}",
        "  body:",
        *[f"    {line}" for line in (session.get("draft_body") or "").splitlines()],
    ]


# ---------------------------------------------------------------------- chat
@app.command()
def chat(session_id: str, message: str) -> None:
    """Send a chat message; waits for the turn, then prints the reply and the framework."""
    api = config.api
    try:
        dispatched = api.chat(session_id, message)
        remember_token(dispatched.run_id, dispatched.token)
        with console.status("thinking…", spinner="dots") if not config.as_json else _quiet():
            run = follow(api, dispatched.run_id, dispatched.token, lambda _: None)
        session = api.get_session(session_id)
    except ApiError as error:
        raise fail(error) from None
    except KeyboardInterrupt:
        raise _detached([dispatched.run_id]) from None
    replies = [m for m in session.get("messages") or [] if m.get("role") == "assistant"]
    if run.get("status") != "COMPLETED":
        errors.print(f"[red]the turn {run.get('status', '').lower()}:[/red] {run.get('error') or ''}")
    text = "\n".join([replies[-1]["content"] if replies else "", "", *_framework_lines(session)])
    emit({"run": run, "session": session}, text)
    if run.get("status") != "COMPLETED":
        raise typer.Exit(SOME_FAILED)


class _quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


# ---------------------------------------------------------------------- runs
def _token(run_id: str, token: str | None) -> str:
    found = token or remembered_token(run_id)
    if not found:
        errors.print("No token for that run: pass --token <publicAccessToken> (runs this CLI started are remembered).")
        raise typer.Exit(USAGE)
    return found


@runs_app.command("show")
def runs_show(run_id: str, token: Annotated[str | None, typer.Option(help="The run's publicAccessToken.")] = None):
    """A run's status, progress and usage."""
    try:
        run = config.api.get_run(run_id, _token(run_id, token))
    except ApiError as error:
        raise fail(error) from None
    progress = run.get("progress") or {}
    emit(run, f"{run['id']}  {run['status']}  {progress.get('completed', 0)}/{progress.get('total', 0)} done, "
              f"{progress.get('failed', 0)} failed")


@runs_app.command("watch")
def runs_watch(run_id: str, token: Annotated[str | None, typer.Option(help="The run's publicAccessToken.")] = None):
    """Follow a run with a live progress bar until it ends."""
    found = _token(run_id, token)
    try:
        first = config.api.get_run(run_id, found)
        with ProgressBar(int((first.get("progress") or {}).get("total", 0)), console, not config.as_json) as bar:
            run = follow(config.api, run_id, found, bar.show)
    except ApiError as error:
        raise fail(error) from None
    except KeyboardInterrupt:
        raise _detached([run_id]) from None
    emit(run, f"{run['id']} {run['status']}")
    raise typer.Exit(OK if run["status"] == "COMPLETED" and not (run.get("progress") or {}).get("failed") else 1)


@runs_app.command("cancel")
def runs_cancel(run_id: str) -> None:
    """Stop a run: its session is free at once and keeps the examples it had before the run."""
    try:
        out = config.api.cancel_run(run_id)
    except ApiError as error:
        raise fail(error) from None
    emit(out, f"{run_id} canceled")


def _detached(run_ids: list[str], unsent: int = 0) -> typer.Exit:
    errors.print("\nDetached: the run goes on. Resume watching with:")
    for run_id in run_ids:
        errors.print(f"  outreach runs watch {run_id}")
    if unsent:
        errors.print(f"{unsent} leads were not sent yet; send them with the same command minus the leads done.")
    return typer.Exit(DETACHED)


# ------------------------------------------------------------------ generate
@app.command()
def generate(
    session_id: str,
    leads_file: Annotated[Path, typer.Argument(help="Leads: a CSV export (any sales tool) or a JSON list.",
                                               exists=True, dir_okay=False, readable=True)],
    first_batch: Annotated[bool, typer.Option("--first-batch", help="Replace the session's examples.")] = False,
    idempotency_key: Annotated[str | None, typer.Option(help="Send again safely: the same key never runs twice.")]
    = None,
    out: Annotated[Path | None, typer.Option(help="Write the emails to a .csv, .json or .md file.")] = None,
    skip_bad_rows: Annotated[bool, typer.Option("--skip-bad-rows", help="Send the good rows of a file with bad ones.")]
    = False,
) -> None:
    """Write one sample email per lead, with a live progress bar; more than 100 leads go as consecutive runs."""
    if out is not None and out.suffix.lower() not in output.FORMATS:
        errors.print(f"--out takes a {', '.join(output.FORMATS)} file")
        raise typer.Exit(USAGE)
    try:
        found = lead_files.read_leads(leads_file)
    except (ValueError, UnicodeDecodeError) as error:
        errors.print(f"[red]{leads_file}:[/red] {error}")
        raise typer.Exit(USAGE) from None
    for bad in found.bad_rows:
        errors.print(f"[yellow]{leads_file}:{bad.line}:[/yellow] {bad.reason}")
    if found.bad_rows and not skip_bad_rows:
        errors.print(f"{len(found.bad_rows)} bad rows: nothing sent. Fix them, or pass --skip-bad-rows.")
        raise typer.Exit(USAGE)
    if not found.leads:
        errors.print("No leads to send.")
        raise typer.Exit(USAGE)

    batches = [found.leads[i:i + MAX_LEADS_PER_RUN] for i in range(0, len(found.leads), MAX_LEADS_PER_RUN)]
    examples: list[dict[str, Any]] = []
    started: list[str] = []
    runs: list[dict[str, Any]] = []
    try:
        with ProgressBar(len(found.leads), console, not config.as_json) as bar:
            for number, batch in enumerate(batches):
                key = f"{idempotency_key}:{number}" if idempotency_key and len(batches) > 1 else idempotency_key
                dispatched = config.api.generate(session_id, batch, first_batch=first_batch and number == 0,
                                                 idempotency_key=key)
                remember_token(dispatched.run_id, dispatched.token)
                started.append(dispatched.run_id)
                run = follow(config.api, dispatched.run_id, dispatched.token, bar.show)
                bar.finished(run)
                runs.append(run)
                examples += run.get("examples") or []
                if run["status"] != "COMPLETED":
                    break
    except ApiError as error:
        raise fail(error) from None
    except KeyboardInterrupt:
        sent = sum(len(b) for b in batches[: len(started)])
        raise _detached(started[-1:], unsent=len(found.leads) - sent) from None

    if out is not None:
        output.write(out, examples)
    _report(examples, runs, out, total=len(found.leads))
    written = sum(1 for e in examples if e.get("status") == "completed")
    raise typer.Exit(OK if written == len(found.leads) else SOME_FAILED)


def _report(examples: list[dict[str, Any]], runs: list[dict[str, Any]], out: Path | None, *, total: int) -> None:
    if config.as_json:
        emit({"runs": [{k: v for k, v in r.items() if k != "examples"} for r in runs], "examples": examples})
        return
    for example in examples if out is None else []:
        lead = example.get("lead") or {}
        console.rule(f"{lead_files.display_name(lead)} · {output.verdict(example)}")
        for flag in output.flags(example):
            console.print(f"[yellow]! {flag}[/yellow]")
        if example.get("status") == "completed":
            console.print(f"[bold]{example.get('subject') or ''}[/bold]\n\n{example.get('body') or ''}\n")
        else:
            console.print(f"[red]failed:[/red] {example.get('error') or ''}")
    written = sum(1 for e in examples if e.get("status") == "completed")
    review = sum(1 for e in examples if output.verdict(e) == "needs_review")
    where = f" → {out}" if out is not None else ""
    console.print(f"{written}/{total} emails written, {review} to review, {len(runs)} run(s){where}")
    for run in runs:
        if run.get("status") != "COMPLETED":
            errors.print(f"[red]run {run['id']} {run['status'].lower()}:[/red] {run.get('error') or ''}")


def main() -> None:
    try:
        app()
    except BrokenPipeError:  # `outreach ... | head`
        sys.exit(0)


