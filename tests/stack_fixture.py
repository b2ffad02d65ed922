"""Starting the local stack with its HTTP front for a test package."""

from __future__ import annotations

import contextlib

from local.http_front import serve_in_background
from local.stack import LocalStack

KEY_A, KEY_B = "key-workspace-a", "key-workspace-b"


@contextlib.contextmanager
def running_stack(fake_openai, state_dir, **env_overrides):
    env = {
        "LOCAL_API_KEYS": f"ws_a:{KEY_A},ws_b:{KEY_B}",
        "LLM_PROVIDER": "openai",
        "OPENAI_API_KEY": "sk-test-not-a-real-key",
        "OPENAI_BASE_URL": fake_openai.url,
        "OPENAI_MODEL": "gpt-test",
        "LLM_MAX_RETRIES": "1",
        "LLM_TIMEOUT_S": "10",
        **env_overrides,
    }
    local = LocalStack(state_dir=state_dir, env=env).start()
    server, url = serve_in_background(local)
    local.url = url
    try:
        yield local
    finally:
        server.shutdown()
        server.server_close()
        local.stop()


@contextlib.contextmanager
def clean_slate(stack, fake_openai):
    """Each test starts with a quiet fake LLM and no injected fault, and leaves none behind."""
    fake_openai.reset()
    fake_openai.latency_s = 0.0
    fake_openai.chat_route = True
    stack.before_invoke = None
    try:
        yield
    finally:
        stack.before_invoke = None
        fake_openai.latency_s = 0.0
