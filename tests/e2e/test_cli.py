"""The `outreach` command end to end against the local stack: files in, a progress bar, emails out."""

import csv
import json

import pytest
from typer.testing import CliRunner

from outreach_cli.main import app
from tests.e2e.conftest import KEY_A


@pytest.fixture
def run_cli(stack, api, tmp_path):
    runner = CliRunner()
    env = {"OUTREACH_API_URL": stack.url, "OUTREACH_API_KEY": KEY_A, "XDG_CACHE_HOME": str(tmp_path / "cache")}

    def run(*args: str):
        return runner.invoke(app, list(args), env=env)

    return run


def leads_csv(path, count: int, extra_rows: str = "") -> None:
    rows = [f"Lead{i},Person{i},Company {i},VP Sales,https://www.linkedin.com/in/lead-{i},SaaS" for i in range(count)]
    path.write_text("First Name,Last Name,Company Name,Title,Person Linkedin Url,Industry\n" + "\n".join(rows)
                    + "\n" + extra_rows, encoding="utf-8")


def test_a_bad_row_stops_the_command_before_anything_is_sent(run_cli, api, tmp_path):
    session = api.session_with_framework()
    path = tmp_path / "leads.csv"
    leads_csv(path, 3, extra_rows=",,,CTO,,\n")
    result = run_cli("generate", session["id"], str(path), "--first-batch")
    assert result.exit_code == 2, result.output
    assert "leads.csv:5: a lead needs a name, a company or a LinkedIn URL" in result.output
    assert api.session(session["id"]).body["generated_examples"] == []  # nothing was dispatched


def test_a_hundred_and_fifty_leads_go_as_two_runs_and_land_in_order(run_cli, api, tmp_path):
    session = api.session_with_framework()
    path, out = tmp_path / "leads.csv", tmp_path / "emails.csv"
    leads_csv(path, 150, extra_rows=",,,CTO,,\n")
    result = run_cli("generate", session["id"], str(path), "--first-batch", "--skip-bad-rows", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "150/150 emails written" in result.output and "2 run(s)" in result.output
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["company"] for row in rows] == [f"Company {i}" for i in range(150)]
    assert all(row["status"] == "completed" and row["subject"] and row["body"] for row in rows)
    examples = api.wait_idle(session["id"])["generated_examples"]
    assert [e["lead"]["company"] for e in examples] == [f"Company {i}" for i in range(150)]
    assert examples[0]["lead"]["custom_fields"] == {"Industry": "SaaS"}


@pytest.mark.parametrize("suffix", [".json", ".md", ".csv"])
def test_out_writes_every_email_in_the_chosen_format(run_cli, api, tmp_path, suffix):
    session = api.session_with_framework()
    path, out = tmp_path / "leads.csv", tmp_path / f"emails{suffix}"
    leads_csv(path, 3)
    result = run_cli("generate", session["id"], str(path), "--first-batch", "--out", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    if suffix == ".json":
        assert [e["lead"]["company"] for e in json.loads(text)] == ["Company 0", "Company 1", "Company 2"]
    elif suffix == ".md":
        assert [line for line in text.splitlines() if line.startswith("## ")] == [
            f"## Lead{i} Person{i} (Company {i})" for i in range(3)]
    else:
        assert len(list(csv.DictReader(text.splitlines()))) == 3


def test_json_output_serves_scripts(run_cli, api, tmp_path):
    session = api.session_with_framework()
    path = tmp_path / "leads.json"
    path.write_text(json.dumps([{"first_name": "Ann", "company": "Acme"}]), encoding="utf-8")
    result = run_cli("--json", "generate", session["id"], str(path))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [e["lead"] for e in report["examples"]] == [{"first_name": "Ann", "company": "Acme"}]
    assert report["runs"][0]["status"] == "COMPLETED"


def test_sessions_and_chat_commands(run_cli, api):
    created = run_cli("sessions", "create", "--campaign", "cmp_cli", "--node", "n1", "--title", "From the CLI")
    assert created.exit_code == 0, created.output
    session_id = created.stdout.strip()
    chat = run_cli("chat", session_id, "We sell AI meeting notes to sales teams. Ask for a 15-minute call.")
    assert chat.exit_code == 0, chat.output
    assert "framework v1" in chat.stdout
    listed = run_cli("--json", "sessions", "list", "--campaign", "cmp_cli")
    assert [s["id"] for s in json.loads(listed.stdout)] == [session_id]
    assert run_cli("sessions", "delete", session_id).exit_code == 0
    assert api.session(session_id).status == 404


def test_api_errors_exit_3_and_say_why(run_cli, stack, tmp_path):
    result = CliRunner().invoke(app, ["sessions", "show", "00000000-0000-0000-0000-000000000000"],
                                env={"OUTREACH_API_URL": stack.url, "OUTREACH_API_KEY": "not-a-key"})
    assert result.exit_code == 3
    assert "unauthorized" in result.output


def test_sessions_show_reads_a_session_past_one_answers_6_mb_whole(run_cli, api):
    session = api.session_with_framework()
    wide = {f"note_{n}": "\U0001f680" * 1990 for n in range(12)}  # 96 KB stored, ~340 KB in an answer
    sent = []
    for batch in range(3):
        leads = [{"first_name": f"C{batch}L{i}", "company": "Acme", "custom_fields": wide} for i in range(9)]
        body = json.dumps({"leads": leads}, ensure_ascii=False).encode()
        answer = api.call("POST", f"/api/campaigns/ai-chat-sessions/{session['id']}/generate-examples", raw=body)
        assert answer.status == 200, answer.body
        api.wait_idle(session["id"], timeout_s=120)
        sent += [lead["first_name"] for lead in leads]
    assert api.session(session["id"]).body["generated_examples_next_cursor"]  # the API answers a first part
    shown = run_cli("--json", "sessions", "show", session["id"])
    assert shown.exit_code == 0, shown.output
    assert [e["lead"]["first_name"] for e in json.loads(shown.stdout)["generated_examples"]] == sent
