"""The whole service through its HTTP front, on the local stack, against the fake OpenAI server."""

import pytest

from local.http_front import serve_in_background
from local.stack import LocalStack
from tests.client import ApiClient

KEY_A, KEY_B = "key-workspace-a", "key-workspace-b"


@pytest.fixture(scope="package")
def stack(fake_openai, tmp_path_factory):
    env = {
        "LOCAL_API_KEYS": f"ws_a:{KEY_A},ws_b:{KEY_B}",
        "LLM_PROVIDER": "openai",
        "OPENAI_API_KEY": "sk-test-not-a-real-key",
        "OPENAI_BASE_URL": fake_openai.url,
        "OPENAI_MODEL": "gpt-test",
        "LLM_MAX_RETRIES": "1",
        "LLM_TIMEOUT_S": "10",
    }
    local = LocalStack(state_dir=tmp_path_factory.mktemp("state"), env=env).start()
    server, url = serve_in_background(local)
    local.url = url
    yield local
    server.shutdown()
    server.server_close()
    local.stop()


@pytest.fixture
def api(stack, fake_openai):
    fake_openai.reset()
    fake_openai.latency_s = 0.0
    stack.before_invoke = None
    yield ApiClient(stack.url, KEY_A)
    stack.before_invoke = None


@pytest.fixture
def api_b(stack):
    return ApiClient(stack.url, KEY_B)
