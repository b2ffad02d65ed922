"""The fault-injection suite: the local stack with short limits, so time-outs and expiries happen in seconds.

When the suite's stack is about to stop, every session a test handed to the tally is checked once more (not
left claimed, each example present once), whatever order the tests ran in; a problem fails the run there.
"""

import pytest

from tests.faults.tally import CountingClient, line
from tests.stack_fixture import KEY_A, clean_slate, running_stack

RUN_TIMEOUT_S = 12
WORKSPACE_LLM_CAP = 4


@pytest.fixture(scope="package")
def stack(fake_openai, tmp_path_factory, tally):
    env = {
        "RUN_TIMEOUT_S": str(RUN_TIMEOUT_S),
        "LLM_TIMEOUT_S": "0.5",
        "LLM_MAX_RETRIES": "1",
        "WORKSPACE_LLM_CONCURRENCY": str(WORKSPACE_LLM_CAP),
    }
    with running_stack(fake_openai, tmp_path_factory.mktemp("faults"), **env) as local:
        yield local
        tally.check_watched()
        assert not tally.problems(), line(tally.totals())


@pytest.fixture
def api(stack, fake_openai, tally):
    with clean_slate(stack, fake_openai):
        yield CountingClient(stack.url, KEY_A, tally)
