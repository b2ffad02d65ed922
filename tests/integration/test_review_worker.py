"""The lead worker's review on the real store: stored on the lead, repaired once, never at the email's cost."""

import openai
import pytest
from botocore.exceptions import ClientError

from outreach.llm.openai_writer import OpenAIWriter
from outreach.logic import workers
from outreach.logic.runs import run_view
from tests.integration.test_workers import ANN, BO, CY

BAD = {"subject": "Idea for {{company}}", "body": "Hi Ann,\n\nWe helped Globex Corporation save 37%.\n\nBest"}
CLEAN = {"subject": "A quick idea for Acme", "body": "Hi Ann,\n\nA note for the CTO at Acme.\n\nBest"}
EMPTY = {"subject": "", "body": ""}


@pytest.fixture
def llm(fake_openai):
    fake_openai.reset()
    client = openai.OpenAI(api_key="x", base_url=fake_openai.url, max_retries=0, timeout=10)
    yield OpenAIWriter(client, "gpt-test", cache_key=False)
    fake_openai.reset()


def test_each_lead_item_carries_its_review_and_the_run_tallies_them(store, writer, make_session, make_generate_run):
    run_id = make_generate_run(make_session(), [ANN, BO, CY])
    outs = [workers.generate_lead(store, writer, run_id, i) for i in range(3)]
    assert [o["review"] for o in outs] == [{"verdict": "ok", "checks": [], "attempts": 1}] * 3
    for i in range(3):
        assert store.get_lead(run_id, i).review.model_dump() == {"verdict": "ok", "flags": [], "attempts": 1}
    view = run_view(store, store.get_run(run_id))
    assert view["review"] == {"ok": 3, "needs_review": 0}
    assert [e["review"]["verdict"] for e in view["examples"]] == ["ok"] * 3


def test_bad_then_clean_keeps_the_second_answer(store, llm, fake_openai, make_session, make_generate_run):
    fake_openai.script_emails("Ann", BAD, CLEAN)
    run_id = make_generate_run(make_session(), [ANN, BO])
    out = workers.generate_lead(store, llm, run_id, 0)
    lead = store.get_lead(run_id, 0)
    assert (lead.subject, lead.body) == (CLEAN["subject"], CLEAN["body"])
    assert lead.review.model_dump() == {"verdict": "ok", "flags": [], "attempts": 2}
    assert out["review"] == {"verdict": "ok", "checks": [], "attempts": 2}
    first, second = fake_openai.email_prompts_for("Ann")
    assert second[:-1] == first[:-1]  # the shared prefix, as cached
    assert second[-1]["content"].endswith(first[-1]["content"])  # the same prospect, last
    assert "Globex Corporation" in second[-1]["content"] and "{{company}}" in second[-1]["content"]


def test_a_failed_repair_call_keeps_the_first_email(store, llm, fake_openai, make_session, make_generate_run):
    fake_openai.script_emails("Ann", BAD, EMPTY)  # the repair answer is unusable, twice: a permanent error
    run_id = make_generate_run(make_session(), [ANN])
    assert workers.generate_lead(store, llm, run_id, 0)["status"] == "completed"
    lead = store.get_lead(run_id, 0)
    assert (lead.subject, lead.body) == (BAD["subject"], BAD["body"])
    flags = {f.check: f.evidence for f in lead.review.flags}
    assert flags == {"unresolved_placeholder": ["{{company}}"], "ungrounded_fact": ["Globex Corporation", "37%"]}
    assert lead.review.attempts == 2


class _RosterUnreadable:
    """The real store, except that DynamoDB refuses the query for the run's leads."""

    def __init__(self, store):
        self._store = store

    def __getattr__(self, name):
        return getattr(self._store, name)

    def get_run_leads(self, run_id):
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}}, "Query")


def test_the_worker_reads_the_other_leads_from_its_run_and_queries_nothing(
    store, llm, fake_openai, make_session, make_generate_run
):
    fake_openai.script_emails("Ann", {"subject": "Hi", "body": "Hi Ann,\n\nBo Diaz at Initech says hi.\n\nBest"})
    run_id = make_generate_run(make_session(), [ANN, BO])
    assert workers.generate_lead(_RosterUnreadable(store), llm, run_id, 0)["status"] == "completed"
    flags = {f.check: f.evidence for f in store.get_lead(run_id, 0).review.flags}
    assert flags["other_lead"] == ["Bo Diaz", "Initech"]


def test_a_review_that_cannot_read_the_other_leads_says_so_and_the_email_lands(
    store, writer, make_session, make_generate_run
):
    run_id = make_generate_run(make_session(), [ANN, BO], with_roster=False)  # an older run: one query
    assert workers.generate_lead(_RosterUnreadable(store), writer, run_id, 0)["status"] == "completed"
    lead = store.get_lead(run_id, 0)
    assert lead.body.startswith("Hi Ann,")
    assert lead.review.verdict == "needs_review"
    assert [(f.check, f.evidence) for f in lead.review.flags] == [("review_error", ["other_lead"])]


def test_an_older_run_without_a_roster_finds_the_other_leads_with_one_query(
    store, llm, fake_openai, make_session, make_generate_run
):
    fake_openai.script_emails("Ann", {"subject": "Hi", "body": "Hi Ann,\n\nCy at Globex says hi.\n\nBest"})
    run_id = make_generate_run(make_session(), [ANN, BO, CY], with_roster=False)
    workers.generate_lead(store, llm, run_id, 0)
    flags = {f.check: f.evidence for f in store.get_lead(run_id, 0).review.flags}
    assert flags["other_lead"] == ["Globex"]
