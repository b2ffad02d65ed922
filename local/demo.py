"""`make demo`: the main job end to end on the local stack, driven over HTTP like any client.

Creates a session, runs the chat turns of events/chat_turns.json, generates one
email per lead of events/sample_leads.json, and prints the emails and the run's
figures, with the service's review of each email (verdict and flags). Offline writer by default;
OpenAI when OPENAI_API_KEY is set.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from local.cfn import ROOT
from local.http_front import serve_in_background
from local.stack import LocalStack

EVENTS = ROOT / "events"
DEMO_KEY = "demo-key"


def _client(base_url: str):
    sys.path.insert(0, str(ROOT))
    from tests.client import ApiClient

    return ApiClient(base_url, DEMO_KEY)


def _wrap(text: str, indent: str = "  ") -> str:
    lines = []
    for line in text.splitlines() or [""]:
        lines.append(textwrap.fill(line, 88, initial_indent=indent, subsequent_indent=indent) if line else "")
    return "\n".join(lines)


def _review_lines(review: dict | None) -> str:
    """The service's verdict on one email, and each flag with the strings that raised it."""
    if not review:
        return "Review: none"
    tries = f" (model asked {review['attempts']} times)" if review["attempts"] > 1 else ""
    lines = [f"Review: {review['verdict']}{tries}"]
    for flag in review["flags"]:
        lines.append(f"  ! {flag['check']}: {flag['detail']}")
        lines.append(f"    evidence: {', '.join(repr(e) for e in flag['evidence'])}")
    return "\n".join(lines)


def main() -> int:
    chat = json.loads((EVENTS / "chat_turns.json").read_text())
    leads = json.loads((EVENTS / "sample_leads.json").read_text())
    env = {**os.environ, "LOCAL_API_KEYS": f"demo:{DEMO_KEY}"}
    with tempfile.TemporaryDirectory(prefix="outreach-demo-") as state_dir:
        stack = LocalStack(state_dir=Path(state_dir), env=env).start()
        server, url = serve_in_background(stack)
        try:
            return _run(_client(url), stack.llm_provider, chat, leads)
        finally:
            server.shutdown()
            server.server_close()
            stack.stop()


def _run(api, provider: str, chat: dict, leads: list[dict]) -> int:
    print(f"Local stack up (LLM provider: {provider}).\n")
    session = api.create_session(campaign_id="cmp_demo", node_id="node_1", title="Demo: first touch")
    sid = session["id"]

    print(f"== Chat: {len(chat['turns'])} turns to converge on a framework ==")
    for message in chat["turns"]:
        answer = api.turn(
            sid, message,
            availableVarNames=chat.get("availableVarNames", []), sequenceContext=chat.get("sequenceContext"),
        )
        if answer.status != 200:
            print(f"chat turn refused: {answer.status} {answer.body}", file=sys.stderr)
            return 1
        session = api.wait_idle(sid, timeout_s=180)
        print(f"you:       {textwrap.shorten(message, 100)}")
        print(f"assistant: {textwrap.shorten(session['messages'][-1]['content'], 100)}")
    if not session["skeleton"]:
        print("The framework LLM gave no framework; nothing to generate.", file=sys.stderr)
        return 1
    print(f"\n== Framework v{session['framework_version']} ==")
    print(f"Subject: {session['draft_subject']}\n{_wrap(session['draft_body'])}\n")

    started = time.monotonic()
    answer = api.generate(sid, leads, sequenceContext=chat.get("sequenceContext"), isFirstBatch=True)
    if answer.status != 200:
        print(f"generate-examples refused: {answer.status} {answer.body}", file=sys.stderr)
        return 1
    session = api.wait_idle(sid, timeout_s=600)
    wall = time.monotonic() - started
    run = api.call("GET", f"/api/runs/{answer.body['runId']}", token=answer.body["publicAccessToken"]).body

    print(f"== {len(session['generated_examples'])} sample emails (run {run['id']}) ==")
    for example in session["generated_examples"]:
        lead = example["lead"]
        who = lead.get("full_name") or " ".join(filter(None, (lead.get("first_name"), lead.get("last_name"))))
        print(f"\n--- {who}, {lead.get('position', '')} at {lead.get('company', '')}")
        if example["status"] == "completed":
            print(f"Subject: {example['subject']}\n{_wrap(example['body'])}")
            print(_review_lines(example["review"]))
        else:
            print(f"FAILED: {example['error']}")

    progress, usage, review = run["progress"], run["usage"], run["review"]
    print(
        "\n== Run figures ==\n"
        f"status: {run['status']}  leads: {progress['total']}  completed: {progress['completed']}  "
        f"failed: {progress['failed']}  wall time: {wall:.2f} s\n"
        f"review: {review['ok']} ok, {review['needs_review']} need review\n"
        f"tokens: {usage['input_tokens']} in ({usage['cached_input_tokens']} cached), {usage['output_tokens']} out"
    )
    return 0 if run["status"] == "COMPLETED" and progress["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
