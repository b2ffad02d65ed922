"""`make serve` prints its refused DynamoDB writes (conditional writes that lost) on SIGUSR1 and when it stops."""

import json
import os
import signal

import pytest

from local.serve import REFUSALS_LINE
from tests.client import ApiClient
from tests.restart.crash_load import KEY, Server
from tests.waiting import wait_until

LEAD = {"first_name": "Ann", "company": "Acme", "linkedin_url": "https://www.linkedin.com/in/ann-refusals"}
CLAIM_LOST = "update_item:ConditionalCheckFailed"


def printed_counters(server: Server) -> list[dict[str, int]]:
    return [json.loads(line[len(REFUSALS_LINE):]) for line in server.log_text().splitlines()
            if line.startswith(REFUSALS_LINE)]


def counters_now(server: Server) -> dict[str, int]:
    seen = len(printed_counters(server))
    os.kill(server.proc.pid, signal.SIGUSR1)
    return wait_until(lambda: printed_counters(server)[seen:], 30, "the refusal counters in the log")[0]


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="no SIGUSR1 on this platform")
def test_a_second_dispatch_on_a_busy_session_shows_as_a_refused_write(tmp_path, fake_openai):
    fake_openai.reset()
    fake_openai.latency_s = 0
    server = Server(tmp_path, fake_openai.url).start()
    try:
        api = ApiClient(server.url, KEY)
        session_id = api.session_with_framework()["id"]
        before = counters_now(server)

        fake_openai.latency_s = 2.0  # the first run holds the session's claim while its LLM call waits
        assert api.generate(session_id, [LEAD], isFirstBatch=True).status == 200
        second = api.generate(session_id, [LEAD], isFirstBatch=True)
        fake_openai.latency_s = 0
        api.wait_idle(session_id)

        assert second.status == 409, second.body
        after = counters_now(server)
        assert after.get(CLAIM_LOST, 0) >= before.get(CLAIM_LOST, 0) + 1
    finally:
        fake_openai.latency_s = 0
        server.stop()
    at_stop = printed_counters(server)[-1]
    assert server.log_text().rstrip().endswith("stopped")
    assert at_stop.get(CLAIM_LOST, 0) >= after[CLAIM_LOST]
