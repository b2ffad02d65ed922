"""`make serve`: the whole service on 127.0.0.1:$PORT until Ctrl-C.

`kill -USR1 <pid>` prints how many DynamoDB writes were refused since start-up (lost conditional writes:
claims, leases, write-once results), per operation; the server prints it again when it stops.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

from local.dynamodb_writes import DYNAMODB_REFUSALS
from local.http_front import make_server
from local.stack import LocalStack
from outreach.config import SettingsError

REFUSALS_LINE = "DynamoDB writes refused since start-up: "  # + a JSON object, "operation:exception" -> count


def print_refusals(*_: object) -> None:
    counts = dict(DYNAMODB_REFUSALS)  # one C-level copy: other threads may be counting
    # os.write, not print: a signal handler may interrupt a print of the main thread.
    os.write(sys.stdout.fileno(), f"{REFUSALS_LINE}{json.dumps(dict(sorted(counts.items())))}\n".encode())


def main() -> int:
    started = time.monotonic()
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "3000"))
    # Webhooks to http://127.0.0.1 are for development: on here, off on AWS.
    os.environ.setdefault("WEBHOOK_ALLOW_LOOPBACK", "true")
    try:
        stack = LocalStack(persist=True).start()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    try:
        server = make_server(stack, host, port)
    except OSError as error:
        stack.stop()
        print(f"Cannot listen on {host}:{port}: {error}. Set PORT to a free port.", file=sys.stderr)
        return 1
    workspaces = ", ".join(p.split(":", 1)[0] for p in stack.api_keys.split(",") if ":" in p)
    print(
        f"outreach local stack ready in {time.monotonic() - started:.1f}s on http://{host}:{port}\n"
        f"  LLM provider: {stack.llm_provider}"
        f"{' (' + os.environ.get('OPENAI_BASE_URL', '') + ')' if os.environ.get('OPENAI_BASE_URL') else ''}\n"
        f"  workspaces from LOCAL_API_KEYS: {workspaces}\n"
        f"  state: {stack.state_dir} ({stack.restored} items restored)\n"
        f"  event bus {stack.resolver.ref('EventBusName')!r}: aws events put-events --endpoint-url http://{host}:{port}\n"
        f"  dead-letter queues (aws sqs receive-message --endpoint-url ... --queue-url):\n"
        + "".join(f"    {stack.resolver.ref(q)}\n" for q in ("TriggerDeadLetterQueue", "WebhookDeadLetterQueue"))
        + "  Ctrl-C stops it.",
        flush=True,
    )
    # SIGTERM (e.g. from `kill` or a test harness) stops as cleanly as Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    if hasattr(signal, "SIGUSR1"):
        signal.signal(signal.SIGUSR1, print_refusals)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        stack.stop()
        sys.stdout.flush()
        print_refusals()
        print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
