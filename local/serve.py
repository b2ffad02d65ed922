"""`make serve`: the whole service on 127.0.0.1:$PORT until Ctrl-C."""

from __future__ import annotations

import os
import signal
import sys
import time

from local.http_front import make_server
from local.stack import LocalStack
from outreach.config import SettingsError


def main() -> int:
    started = time.monotonic()
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "3000"))
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
        "  Ctrl-C stops it.",
        flush=True,
    )
    # SIGTERM (e.g. from `kill` or a test harness) stops as cleanly as Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        stack.stop()
        print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
