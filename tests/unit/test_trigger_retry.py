"""A request for a busy session waits longer at each try, never longer than a claim can last."""

from itertools import pairwise

from outreach.logic.trigger import MAX_RETRY_DELAY_S, retry_delay_s


def test_the_delay_grows_with_each_receive_and_is_capped():
    delays = [retry_delay_s(count, base_s=5) for count in range(1, 15)]
    assert delays[0] == 5
    assert all(later >= earlier for earlier, later in pairwise(delays))
    assert delays[3] > delays[0]
    assert max(delays) == MAX_RETRY_DELAY_S
    # Together the tries outlast the longest claim (RUN_TIMEOUT_S is at most 3600 s): the queue's
    # maxReceiveCount (30, template.yaml) is not reached while a session is merely busy.
    assert sum(retry_delay_s(count, base_s=5) for count in range(1, 30)) > 3600
