"""Run Completed / Run Failed on the service's bus: one per run, from the writer that finished it."""

from __future__ import annotations

from tests.events.test_events_in import LEADS

FIELDS = {"run_id", "session_id", "workspace_id", "kind", "status", "progress"}


def run_events(bus_tap, run_id: str) -> list[dict]:
    return [e for e in bus_tap.drain() if e["detail"].get("run_id") == run_id]


def test_a_completed_run_is_announced_once_even_when_its_steps_run_again(api, stack, bus_tap):
    session = api.session_with_framework()
    run_id = api.generate(session["id"], LEADS).body["runId"]
    (event,) = bus_tap.wait_for(lambda e: e["detail"].get("run_id") == run_id)
    assert (event["source"], event["detail-type"]) == ("outreach", "Run Completed")
    assert event["detail"] == {"run_id": run_id, "session_id": session["id"], "workspace_id": "ws_a",
                               "kind": "generate_examples", "status": "COMPLETED",
                               "progress": {"total": 2, "completed": 2, "failed": 0}}
    # Step Functions may run a step twice, and the release rule may fire late: neither announces again.
    stack.invoke("AggregateFunction", {"run_id": run_id})
    stack.invoke("ReleaseFunction", {"run_id": run_id, "error": "States.Timeout"})
    assert len(run_events(bus_tap, run_id)) == 1


def test_a_chat_turn_is_announced_when_it_completes(api, bus_tap):
    session = api.create_session()
    run_id = api.turn(session["id"]).body["runId"]
    (event,) = bus_tap.wait_for(lambda e: e["detail"].get("run_id") == run_id)
    assert event["detail-type"] == "Run Completed"
    assert event["detail"]["kind"] == "chat_turn" and set(event["detail"]) == FIELDS
    assert event["detail"]["progress"] == {"total": 1, "completed": 1, "failed": 0}


def test_a_failed_run_is_announced_as_run_failed(api, stack, bus_tap):
    session = api.session_with_framework()

    def crash_aggregate(function, event):
        if function == "AggregateFunction":
            raise RuntimeError("injected: the aggregate crashed")

    stack.before_invoke = crash_aggregate
    run_id = api.generate(session["id"], LEADS).body["runId"]
    (event,) = bus_tap.wait_for(lambda e: e["detail"].get("run_id") == run_id)
    assert (event["detail-type"], event["detail"]["status"]) == ("Run Failed", "FAILED")
    assert api.wait_idle(session["id"])["task_status"] is None
    stack.before_invoke = None
    stack.invoke("ReleaseFunction", {"run_id": run_id, "error": "States.Timeout"})
    assert len(run_events(bus_tap, run_id)) == 1
