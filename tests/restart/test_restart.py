"""`make serve` keeps its data across a restart, and a crash loses no session and leaves none claimed."""

import pytest

from local.http_front import serve_in_background
from local.stack import LocalStack
from tests.client import ApiClient

KEY = "restart-key"


def start(state_dir, fake_openai):
    env = {"LOCAL_API_KEYS": f"ws:{KEY}", "LLM_PROVIDER": "openai", "OPENAI_API_KEY": "x",
           "OPENAI_BASE_URL": fake_openai.url, "LLM_MAX_RETRIES": "0"}
    stack = LocalStack(state_dir=state_dir, env=env, persist=True).start()
    server, url = serve_in_background(stack)
    stack.server = server
    return stack, ApiClient(url, KEY)


def stop(stack):
    stack.server.shutdown()
    stack.server.server_close()
    stack.stop()


def crash(stack):
    """Gone at once: no drain, nothing flushed on the way out (the store is only closed, as the OS would)."""
    stack.server.shutdown()
    stack.server.server_close()
    stack.watcher.stop()
    stack._close_table_store()
    stack._mock.stop()
    stack._mock = None


@pytest.fixture
def fake(fake_openai):
    fake_openai.reset()
    fake_openai.latency_s = 0
    yield fake_openai
    fake_openai.latency_s = 0


def test_a_clean_restart_keeps_sessions_examples_keys_and_tokens(tmp_path, fake, tally):
    stack, api = start(tmp_path, fake)
    session = api.session_with_framework()
    lead = {"first_name": "Ann", "company": "Acme", "linkedin_url": "https://www.linkedin.com/in/ann-restart"}
    dispatch = api.generate(session["id"], [lead], isFirstBatch=True).body
    before = api.wait_idle(session["id"])
    stop(stack)

    stack, api = start(tmp_path, fake)
    try:
        assert stack.restored > 0
        assert api.session(session["id"]).body == before
        run = api.call("GET", f"/api/runs/{dispatch['runId']}", token=dispatch["publicAccessToken"])
        assert run.status == 200 and run.body["status"] == "COMPLETED"
        tally.observe("clean restart of the local stack")
        tally.check(api, session["id"], [lead["linkedin_url"]])
        assert [e["lead_id"] for e in api.session(session["id"]).body["generated_examples"]] == [lead["linkedin_url"]]
    finally:
        stop(stack)


def test_a_crash_mid_run_loses_no_session_and_leaves_none_claimed(tmp_path, fake, tally):
    stack, api = start(tmp_path, fake)
    idle = api.session_with_framework()
    busy = api.session_with_framework()
    fake.latency_s = 5
    dispatch = api.generate(busy["id"], [{"first_name": "Bo", "company": "Beta"}]).body
    # No wait: every acknowledged write (the claim, the run, the lead) is on disk when the dispatch answers.
    assert api.session(busy["id"]).body["task_status"] is not None
    crash(stack)
    tally.observe("local stack crash mid-run")
    fake.latency_s = 0

    stack, api = start(tmp_path, fake)
    try:
        assert api.session(idle["id"]).body["skeleton"] == idle["skeleton"]
        after = api.session(busy["id"]).body
        assert after["task_status"] is None, "the orphaned claim was released on start"
        run = api.call("GET", f"/api/runs/{dispatch['runId']}", token=dispatch["publicAccessToken"]).body
        assert run["status"] == "FAILED" and "stopped" in run["error"]
        assert api.generate(busy["id"], [{"first_name": "Cy", "company": "Gamma"}]).status == 200
        tally.check(api, busy["id"])
        tally.check(api, idle["id"])
        assert not tally.problems(), tally.totals()
    finally:
        stop(stack)


def test_a_crash_on_a_table_over_one_scan_page_leaves_no_session_claimed(tmp_path, fake, tally):
    """The start-up sweep for runs cut off by the crash reads the whole table, not its first 1 MB page:
    a claimed session whose item comes after 1.5 MB of others is freed too."""
    import json
    import sqlite3

    from local.persistence import DATABASE_FILE, key_text

    stack, api = start(tmp_path, fake)
    busy = api.session_with_framework()
    fake.latency_s = 5
    api.generate(busy["id"], [{"first_name": "Bo", "company": "Beta"}])
    assert api.session(busy["id"]).body["task_status"] is not None
    table = stack.table_name
    crash(stack)
    fake.latency_s = 0
    with sqlite3.connect(tmp_path / DATABASE_FILE) as db:  # items that a scan reads before any session's
        rows = []
        for i in range(300):
            item = {"pk": {"S": f"A#filler{i:03d}"}, "sk": {"S": "X"}, "blob": {"S": "x" * 5000}}
            rows.append((table, key_text(item["pk"]), key_text(item["sk"]), json.dumps(item)))
        db.executemany("INSERT INTO items VALUES (?, ?, ?, ?)", rows)

    stack, api = start(tmp_path, fake)
    try:
        assert api.session(busy["id"]).body["task_status"] is None, "the orphaned claim was released on start"
        tally.check(api, busy["id"])
    finally:
        stop(stack)
