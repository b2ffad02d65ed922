"""Last in the suite: every session the faults touched is free, and no example was lost or doubled."""

from tests.faults.tally import line


def test_nothing_stuck_lost_or_doubled(tally):
    tally.check_watched()
    result = tally.totals()
    print(line(result))
    assert result["faults_injected"] >= 15
    assert result["sessions_left_claimed"] == 0
    assert result["examples_lost"] == 0
    assert result["examples_duplicated"] == 0
    assert result["server_errors"] == 0
