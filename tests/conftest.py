import pytest

from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture(scope="session")
def fake_openai():
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


def pytest_terminal_summary(terminalreporter):
    """The fault-injection suite's one tally line, over everything it injected in this run."""
    from tests.faults.tally import TALLY, line

    if TALLY.faults:
        terminalreporter.write_sep("-", "fault-injection tally")
        terminalreporter.write_line(line(TALLY.totals()))
