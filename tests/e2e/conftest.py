"""The whole service through its HTTP front, on the local stack, against the fake OpenAI server."""

import pytest

from tests.client import ApiClient
from tests.stack_fixture import KEY_A, KEY_B, running_stack

__all__ = ["KEY_A", "KEY_B"]


@pytest.fixture(scope="package")
def stack(fake_openai, tmp_path_factory):
    with running_stack(fake_openai, tmp_path_factory.mktemp("state")) as local:
        yield local


@pytest.fixture
def api(stack, fake_openai):
    fake_openai.reset()
    fake_openai.latency_s = 0.0
    fake_openai.chat_route = True
    stack.before_invoke = None
    yield ApiClient(stack.url, KEY_A)
    stack.before_invoke = None


@pytest.fixture
def api_b(stack):
    return ApiClient(stack.url, KEY_B)
