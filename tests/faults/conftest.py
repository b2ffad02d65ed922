"""The fault-injection suite: the local stack with short limits, so time-outs and expiries happen in seconds."""

import pytest

from tests.faults.tally import TALLY, CountingClient
from tests.stack_fixture import KEY_A, clean_slate, running_stack

RUN_TIMEOUT_S = 12
WORKSPACE_LLM_CAP = 4


@pytest.fixture(scope="package")
def stack(fake_openai, tmp_path_factory):
    env = {
        "RUN_TIMEOUT_S": str(RUN_TIMEOUT_S),
        "LLM_TIMEOUT_S": "0.5",
        "LLM_MAX_RETRIES": "1",
        "WORKSPACE_LLM_CONCURRENCY": str(WORKSPACE_LLM_CAP),
    }
    with running_stack(fake_openai, tmp_path_factory.mktemp("faults"), **env) as local:
        yield local


@pytest.fixture
def api(stack, fake_openai):
    with clean_slate(stack, fake_openai):
        yield CountingClient(stack.url, KEY_A, TALLY)


@pytest.fixture
def tally():
    return TALLY
