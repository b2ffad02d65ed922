"""`kill -9` of `python -m local.serve` under load loses no acknowledged write (the SQLite write-through)."""

import pytest

from tests.restart.crash_load import crash_under_load


@pytest.mark.slow
def test_kill_9_under_load_loses_no_acknowledged_write(tmp_path, fake_openai):
    fake_openai.reset()
    result = crash_under_load(tmp_path, fake_openai.url, clients=8, kill_after_acks=150)

    assert result.errors == []
    assert result.acknowledged >= 150 and result.sessions > 8
    assert result.lost == []
    assert (tmp_path / "dynamodb.sqlite3").exists() and not (tmp_path / "dynamodb.json").exists()
