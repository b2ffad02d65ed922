"""Every sample email reviewed against its own inputs, through the HTTP front, against a misbehaving model.

The fake model is scripted per lead (matched by the lead's name in the prompt): it invents figures and
company names, leaves placeholders, names another lead of the run, or answers badly once and well the
second time. Clean leads get emails written only from their own data.
"""

import json

PRIYA = {
    "first_name": "Priya", "last_name": "Raman", "company": "Ledgerline Finance", "position": "VP of Sales",
    "headline": "VP Sales @ Ledgerline | Building a 40-person mid-market AE team",
    "linkedin_url": "https://www.linkedin.com/in/priya-raman-ledgerline-7f3a21",
    "custom_fields": {"recent_news": "Closed a $45M Series C to expand into the UK"},
}
MARCUS = {"first_name": "Marcus", "last_name": "Oyelaran", "company": "Harbor & Pine Logistics",
          "position": "Head of Revenue Operations"}
ELENA = {"first_name": "Elena", "last_name": "Vasquez-Hart", "company": "Quillmark Health",
         "position": "Director of Sales Enablement"}
TOBIAS = {"first_name": "Tobias", "last_name": "Lindqvist", "company": "Copperfield Robotics",
          "position": "Chief Revenue Officer"}
AIKO = {"first_name": "Aiko", "last_name": "Tanabe", "company": "Tallgrass Analytics", "position": "Sales Manager"}
DANIEL = {"first_name": "Daniel", "last_name": "Okafor", "company": "Bluefin Payroll", "position": "Founder & CEO"}
LEADS = [PRIYA, MARCUS, ELENA, TOBIAS, AIKO, DANIEL]

CLEAN_PRIYA = {
    "subject": "Ledgerline's Series C",
    "body": "Hi Priya,\n\nCongrats on Ledgerline Finance's $45M Series C and the move into the UK. Building a "
    "40-person AE team is a lot of ramping.\n\nOpen to a 15-minute call next week?\n\nBest,\nSam",
}
INVENTED = {
    "subject": "How Globex Corporation ramps reps",
    "body": "Hi Marcus,\n\nGlobex Corporation cut ramp time by 37% and saved $2.4M last year. Harbor & Pine "
    "Logistics could do the same.\n\nOpen to a 15-minute call?\n\nBest,\nSam",
}
PLACEHOLDERS = {
    "subject": "An idea for [Company]",
    "body": "Hi {{first_name}},\n\nA short note about Quillmark Health and %industry%.\n\nTODO: add proof.\n\n"
    "Best,\nSam",
}
NAMES_ANOTHER = {
    "subject": "An idea for Copperfield Robotics",
    "body": "Hi Tobias,\n\nPriya Raman at Ledgerline Finance asked me to reach out about Copperfield "
    "Robotics.\n\nBest,\nSam",
}
AIKO_BAD = {
    "subject": "An idea for %company%",
    "body": "Hi Aiko,\n\nWe helped Initech grow pipeline 3x, and Tallgrass Analytics is next.\n\nBest,\nSam",
}
AIKO_CLEAN = {
    "subject": "An idea for Tallgrass Analytics",
    "body": "Hi Aiko,\n\nA short note for you as Sales Manager at Tallgrass Analytics.\n\nBest,\nSam",
}


def run_of(api, dispatch):
    return api.call("GET", f"/api/runs/{dispatch['runId']}", token=dispatch["publicAccessToken"]).body


def flags_of(example):
    return {f["check"]: f["evidence"] for f in example["review"]["flags"]}


def test_misbehaving_answers_are_flagged_with_their_strings_and_clean_ones_are_not(api, fake_openai):
    session = api.session_with_framework()
    fake_openai.script_emails("Priya", CLEAN_PRIYA)
    fake_openai.script_emails("Marcus", INVENTED)
    fake_openai.script_emails("Elena", PLACEHOLDERS)
    fake_openai.script_emails("Tobias", NAMES_ANOTHER)
    fake_openai.script_emails("Aiko", AIKO_BAD, AIKO_CLEAN)
    # Daniel is not scripted: the fake writes him a plain email from his own name and company.

    dispatch = api.generate(session["id"], LEADS, isFirstBatch=True).body
    done = api.wait_idle(session["id"])
    examples = {e["lead"]["first_name"]: e for e in done["generated_examples"]}
    assert all(e["status"] == "completed" for e in examples.values())

    for clean in ("Priya", "Daniel"):
        assert examples[clean]["review"] == {"verdict": "ok", "flags": [], "attempts": 1}, clean

    marcus = examples["Marcus"]
    assert marcus["review"]["verdict"] == "needs_review"
    assert set(flags_of(marcus)) == {"ungrounded_fact"}
    assert {"Globex Corporation", "37%", "$2.4M"} <= set(flags_of(marcus)["ungrounded_fact"])
    assert "Harbor & Pine Logistics" not in flags_of(marcus)["ungrounded_fact"]  # his own company
    assert marcus["review"]["attempts"] == 2  # asked once more; the same invention came back
    assert marcus["body"] == INVENTED["body"]

    elena = flags_of(examples["Elena"])
    assert set(elena["unresolved_placeholder"]) == {"[Company]", "{{first_name}}", "%industry%", "TODO"}

    tobias = flags_of(examples["Tobias"])
    assert set(tobias["other_lead"]) == {"Priya Raman", "Ledgerline Finance"}
    assert "Copperfield Robotics" not in tobias["other_lead"]

    aiko = examples["Aiko"]
    assert aiko["review"] == {"verdict": "ok", "flags": [], "attempts": 2}
    assert (aiko["subject"], aiko["body"]) == (AIKO_CLEAN["subject"], AIKO_CLEAN["body"])

    run = run_of(api, dispatch)
    assert run["review"] == {"ok": 3, "needs_review": 3}
    assert {e["lead"]["first_name"]: e["review"] for e in run["examples"]} == {
        name: e["review"] for name, e in examples.items()
    }


def test_the_repair_names_only_the_strings_of_that_email_and_no_other_lead(api, fake_openai):
    session = api.session_with_framework()
    fake_openai.script_emails("Aiko", AIKO_BAD, AIKO_CLEAN)
    fake_openai.script_emails("Tobias", NAMES_ANOTHER)
    api.generate(session["id"], LEADS, isFirstBatch=True)
    api.wait_idle(session["id"])

    aiko_calls = fake_openai.email_prompts_for("Aiko")
    assert len(aiko_calls) == 2
    repair = aiko_calls[1][-1]["content"]
    assert "%company%" in repair and "Initech" in repair and "3x" in repair
    everything_aiko_saw = json.dumps(aiko_calls, ensure_ascii=False)
    for other in LEADS:
        if other is not AIKO:
            assert other["last_name"] not in everything_aiko_saw and other["company"] not in everything_aiko_saw

    # Tobias's email named Priya: his repair request may quote that, and nothing else of hers.
    tobias_repair = json.dumps(fake_openai.email_prompts_for("Tobias")[1], ensure_ascii=False)
    assert "Priya Raman" in tobias_repair and "40-person" not in tobias_repair and "priya-raman" not in tobias_repair
    # Clean leads were asked once.
    assert len(fake_openai.email_prompts_for("Daniel")) == 1


def test_both_calls_of_a_repaired_lead_count_in_the_run_usage(api, fake_openai):
    session = api.session_with_framework()
    fake_openai.script_emails("Aiko", AIKO_CLEAN)
    once = api.generate(session["id"], [AIKO], isFirstBatch=True).body
    api.wait_idle(session["id"])
    fake_openai.script_emails("Aiko", AIKO_BAD, AIKO_CLEAN)  # a fresh script: bad first, then clean
    twice = api.generate(session["id"], [AIKO], isFirstBatch=True).body
    api.wait_idle(session["id"])

    one, two = run_of(api, once), run_of(api, twice)
    assert one["examples"][0]["review"]["attempts"] == 1 and two["examples"][0]["review"]["attempts"] == 2
    # The second run made the same first call, then a longer one (the first answer and what to fix).
    assert two["usage"]["input_tokens"] > 2 * one["usage"]["input_tokens"]
    assert two["usage"]["output_tokens"] > one["usage"]["output_tokens"]


def test_a_fact_the_rep_gave_in_the_chat_is_grounded(api, fake_openai):
    session = api.create_session()
    assert api.turn(session["id"], "We sell Tallyhand. Teams get back 5 hours per rep every week.").status == 200
    api.wait_idle(session["id"])
    fake_openai.script_emails("Daniel", {
        "subject": "Bluefin Payroll reps",
        "body": "Hi Daniel,\n\nTeams using Tallyhand get back 5 hours per rep every week.\n\nBest,\nSam",
    })
    api.generate(session["id"], [DANIEL], isFirstBatch=True)
    example = api.wait_idle(session["id"])["generated_examples"][0]
    assert example["review"] == {"verdict": "ok", "flags": [], "attempts": 1}


def test_a_failed_lead_has_no_review_and_counts_in_neither_tally(api, fake_openai):
    from tests.fakes.openai_server import PERMANENT_FAIL

    session = api.session_with_framework()
    dispatch = api.generate(session["id"], [{**DANIEL, "headline": PERMANENT_FAIL}, PRIYA], isFirstBatch=True).body
    examples = api.wait_idle(session["id"])["generated_examples"]
    assert examples[0]["status"] == "failed" and examples[0]["review"] is None
    assert run_of(api, dispatch)["review"] == {"ok": 1, "needs_review": 0}


def test_the_run_keeps_the_batchs_names_for_the_check_and_shows_none_of_them(api, stack):
    session = api.session_with_framework()
    dispatch = api.generate(session["id"], [PRIYA, MARCUS], isFirstBatch=True).body
    api.wait_idle(session["id"])
    item = stack.client("dynamodb").get_item(
        TableName=stack.table_name, Key={"pk": {"S": f"R#{dispatch['runId']}"}, "sk": {"S": "RUN"}}
    )["Item"]
    names = [(e["M"]["full_name"]["S"], e["M"]["company"]["S"]) for e in item["roster"]["L"]]
    assert names == [("Priya Raman", "Ledgerline Finance"), ("Marcus Oyelaran", "Harbor & Pine Logistics")]
    assert "roster" not in item["context"]["M"]  # prompts are built from the context
    assert "roster" not in run_of(api, dispatch)
