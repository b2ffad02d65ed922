"""The whole service through its HTTP front, on the local stack, against the fake OpenAI server."""

import pytest

from tests.client import ApiClient
from tests.stack_fixture import KEY_A, KEY_B, clean_slate, running_stack

__all__ = ["KEY_A", "KEY_B"]


@pytest.fixture(scope="package")
def stack(fake_openai, tmp_path_factory):
    with running_stack(fake_openai, tmp_path_factory.mktemp("state")) as local:
        yield local


@pytest.fixture
def api(stack, fake_openai):
    with clean_slate(stack, fake_openai):
        yield ApiClient(stack.url, KEY_A)


@pytest.fixture
def api_b(stack):
    return ApiClient(stack.url, KEY_B)
