import pytest

from tests.fakes.openai_server import FakeOpenAI
from tests.faults.tally import Tally, line

TALLY_KEY = pytest.StashKey[Tally]()


@pytest.fixture(scope="session")
def fake_openai():
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def tally(pytestconfig) -> Tally:
    """The one fault tally of this pytest session (faults observed, sessions checked, schemathesis cases)."""
    return pytestconfig.stash.setdefault(TALLY_KEY, Tally())


def pytest_terminal_summary(terminalreporter, config):
    """The fault-injection suite's one tally line, over everything observed in this run."""
    tally = config.stash.get(TALLY_KEY, None)
    if tally is not None and (tally.faults or tally.schemathesis_cases):
        terminalreporter.write_sep("-", "fault-injection tally")
        terminalreporter.write_line(line(tally.totals()))
        if tally.faults:
            observed = ", ".join(f"{name} x{count}" for name, count in sorted(tally.faults.items()))
            terminalreporter.write_line(f"faults observed: {observed}")
