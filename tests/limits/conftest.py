"""The local stack at 1/20 of AWS's time limits, so a function timeout or an Express child's 5 minutes
happen in seconds (LOCAL_TIME_SCALE; the state machines' Retry intervals stay as written)."""

import pytest

from tests.client import ApiClient
from tests.stack_fixture import KEY_A, clean_slate, running_stack

TIME_SCALE = 0.05


@pytest.fixture(scope="package")
def stack(fake_openai, tmp_path_factory):
    with running_stack(fake_openai, tmp_path_factory.mktemp("limits"), LOCAL_TIME_SCALE=str(TIME_SCALE)) as local:
        yield local


@pytest.fixture
def api(stack, fake_openai):
    with clean_slate(stack, fake_openai):
        yield ApiClient(stack.url, KEY_A)
