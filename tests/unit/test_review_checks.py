"""The review's checks on tricky text: each is a plain function over the email and its inputs."""

import pytest

from outreach.review import OtherLead, ReviewInputs, review_email
from outreach.review import review as review_module
from outreach.review.grounding import ungrounded_strings
from outreach.review.other_lead import other_lead_strings
from outreach.review.placeholders import check_placeholders
from outreach.review.sources import Sources
from outreach.review.spam import PHRASES_FILE, spam_strings
from outreach.review.word_limit import words_over_limit

PRIYA = {
    "first_name": "Priya",
    "last_name": "Raman",
    "company": "Ledgerline Finance",
    "position": "VP of Sales",
    "headline": "VP Sales @ Ledgerline | Building a 40-person mid-market AE team",
    "linkedin_url": "https://www.linkedin.com/in/priya-raman-ledgerline-7f3a21",
    "custom_fields": {"recent_news": "Closed a $45M Series C to expand into the UK", "employees": 320},
}
SKELETON = {"goal": "Book a call", "call_to_action": "a 15-minute call next week", "max_words": 100}


def ungrounded(body, lead=PRIYA, subject="", **inputs):
    sources = Sources.of(ReviewInputs(lead=lead, skeleton=SKELETON, **inputs).source_texts())
    return ungrounded_strings(subject, body, sources)


# ------------------------------------------------------------ ungrounded_fact
def test_sentence_starts_and_ordinary_capitalised_words_are_not_flagged():
    body = (
        "Hi Priya,\n\nCongrats on the Series C. Quick Question: Would your Sales Team want a Demo? "
        "Globex is a word I made up, but it starts a sentence.\n\nBest Regards,\nSam"
    )
    assert ungrounded(body) == []


def test_the_senders_name_after_a_sign_off_is_not_a_claim_about_the_prospect():
    assert ungrounded("Hi Priya,\n\nOpen to a call?\n\nBest regards,\n\nSam Carter") == []
    assert ungrounded("Hi Priya,\n\nSam Carter says hi.\n\nThanks,\nSam") == ["Sam Carter"]


def test_a_name_mid_sentence_is_flagged_as_written():
    assert ungrounded("Teams like Globex Corporation and Initech use it.") == ["Globex Corporation", "Initech"]


def test_a_word_with_capitals_inside_is_a_name_even_first_in_a_sentence():
    assert ungrounded("Hi Priya,\n\nTechCorp and IBM use it. CRM notes, AI and OK are ordinary.") == [
        "TechCorp", "IBM",
    ]


def test_a_name_of_several_words_at_a_sentence_start_is_flagged_whole():
    assert ungrounded("Hi Priya,\n\nStark Industries cut ramp time in half.") == ["Stark Industries"]


def test_possessives_compare_with_the_name():
    assert ungrounded("Congrats on Ledgerline's raise and Ledgerline Finance\u2019s growth, Priya.") == []
    assert ungrounded("I loved reading about Globex's launch.") == ["Globex"]


def test_hyphenated_names_are_one_name():
    elena = {"first_name": "Elena", "last_name": "Vasquez-Hart", "company": "Quillmark Health"}
    assert ungrounded("Dear Ms. Vasquez-Hart, I saw Elena Vasquez-Hart's post.", lead=elena) == []
    assert ungrounded("Dear Elena, I spoke with Anna Smith-Jones yesterday.", lead=elena) == ["Anna Smith-Jones"]


def test_names_in_cased_non_latin_scripts():
    lead = {"first_name": "Дмитрий", "last_name": "Иванов", "company": "Ромашка"}
    assert ungrounded("Здравствуйте, Дмитрий! Видел новости Ромашки и Ромашка растёт.", lead=lead) == ["Ромашки"]
    assert ungrounded("Hello Дмитрий, we work with Газпром already.", lead=lead) == ["Газпром"]


def test_names_in_scripts_without_capitals():
    lead = {"full_name": "田中 愛子", "company": "Acme KK"}
    assert ungrounded("Dear 田中さん, thanks for your time at Acme KK.", lead=lead) == []
    assert ungrounded("Dear 田中さん, our friend 山田 at Acme KK says hello.", lead=lead) == ["山田"]
    # A whole email in such a script: a name cannot be told from a word, so nothing is claimed.
    assert ungrounded("田中様、山田商事の件でご連絡しました。", lead=lead) == []


def test_numbers_in_the_leads_own_headline_are_grounded_and_kinds_matter():
    assert ungrounded("Priya, your 40-person AE team and 320 employees are growing fast.") == []
    assert ungrounded("Priya, your team grew 40% this year.") == ["40%"]  # 40 is a headcount, not a percentage
    assert ungrounded("Congrats on the $45 million Series C, Priya.") == []  # $45M, written another way
    assert ungrounded("We saved one customer $2.4M and 37% of their time, Priya.") == ["$2.4M", "37%"]


def test_the_leads_company_inside_its_url():
    daniel = {"first_name": "Daniel", "last_name": "Okafor",
              "linkedin_url": "https://www.linkedin.com/in/daniel-okafor-bluefin-c4a7d2"}
    assert ungrounded("Hi Daniel, how is the payroll business at Bluefin going?", lead=daniel) == []
    assert ungrounded("Saw linkedin.com/in/daniel-okafor-bluefin-c4a7d2 today, Daniel.", lead=daniel) == []
    assert ungrounded("Saw https://bluefin.com today, Daniel.", lead=daniel) == ["https://bluefin.com"]


def test_quarters_and_idioms_with_digits_are_not_figures():
    assert ungrounded("Priya, before Q3 your B2B team could have 24/7 coverage and a 1:1 coach.") == []
    assert ungrounded("Priya, since Q3 2024 it has helped.") == ["2024"]


def test_weekdays_and_months_are_not_flagged_but_dates_are():
    assert ungrounded("Priya, are you free Tuesday or sometime in March?") == []
    assert ungrounded("Priya, are you free on March 3rd at 3pm?") == ["March 3rd", "3pm"]


def test_emoji_do_not_hide_a_name_or_make_one():
    assert ungrounded("Hi Priya \U0001f44b\n\n\U0001f680 Tallyhand joins your calls.") == []
    assert ungrounded("Hi Priya \U0001f44b we work with Globex \U0001f680 today.") == ["Globex"]


def test_a_quoted_prior_email_is_grounded_by_the_sequence():
    prior = ({"subject": "Notes for Ledgerline", "body": "Hi Priya, we met at SaaStr Annual in 2024."},)
    body = "Hi Priya,\n\nBumping this up.\n\n> Hi Priya, we met at SaaStr Annual in 2024."
    assert ungrounded(body, prior_nodes=prior) == []
    assert ungrounded(body) == ["SaaStr Annual", "2024"]  # without that prior email, both are new


def test_urls_emails_and_handles_must_be_in_the_inputs():
    body = "Priya, write to sam@tallyhand.com or @tallyhand, or see www.tallyhand.com/demo."
    assert ungrounded(body) == ["sam@tallyhand.com", "@tallyhand", "www.tallyhand.com/demo"]
    assert ungrounded(body, draft_body="Sign off with sam@tallyhand.com, @tallyhand and www.tallyhand.com/demo") == []


def test_chat_messages_ground_facts():
    body = "Priya, teams using Tallyhand get back 5 hours per rep per week."
    assert ungrounded(body) == ["Tallyhand", "5"]
    assert ungrounded(body, chat_messages=("We sell Tallyhand: about 5 hours per rep per week back.",)) == []


def test_the_subject_is_checked_too():
    assert ungrounded("Hi Priya,", subject="What Globex learned") == ["Globex"]


# ----------------------------------------------------- unresolved_placeholder
def test_each_placeholder_style_is_found_as_written():
    body = "Hi {{first_name}}, {company} and %industry% [First Name] TODO XXX <insert stat> ${role}"
    assert check_placeholders("Idea for %company%", body) == [
        "%company%", "{{first_name}}", "{company}", "%industry%", "[First Name]", "TODO", "XXX", "<insert stat>",
        "{role}",
    ]


def test_percent_signs_links_and_lowercase_words_are_not_placeholders():
    body = "We took notes from 40% to 95% of calls. See [our page](https://x.io). Add it to your todo list."
    assert check_placeholders("30% faster", body) == []


# ------------------------------------------------------------------ other_lead
OTHERS = (
    OtherLead(full_name="Marcus Oyelaran", company="Harbor & Pine Logistics"),
    OtherLead(full_name="Elena Vasquez-Hart", company="Acme Robotics, Inc."),
    OtherLead(full_name="Sam Lee", company="Ledgerline Finance"),  # a colleague of Priya's
)


def test_another_leads_full_name_or_company_is_found_as_written():
    body = "Priya, Marcus Oyelaran's team at harbor & pine logistics and Elena Vasquez-Hart at Acme Robotics agree."
    assert other_lead_strings("", body, PRIYA, OTHERS) == [
        "Marcus Oyelaran", "harbor & pine logistics", "Elena Vasquez-Hart", "Acme Robotics",
    ]


def test_first_names_and_this_leads_own_company_are_not_another_lead():
    body = "Hi Priya, Marcus and Elena said Ledgerline Finance is growing."
    assert other_lead_strings("", body, PRIYA, OTHERS) == []
    only_a_first_name = (OtherLead(full_name="Sam", company=None),)
    assert other_lead_strings("", "Hi Priya,\n\nBest,\nSam", PRIYA, only_a_first_name) == []


def test_names_written_without_spaces_are_whole_names():
    others = (OtherLead(full_name="田中愛子", company="山田商事"),)
    assert other_lead_strings("", "Priya, 田中愛子 and 山田商事 agree.", PRIYA, others) == ["田中愛子", "山田商事"]


def test_a_company_this_leads_own_data_names_is_about_this_lead():
    lead = {**PRIYA, "headline": "Ex-Harbor & Pine Logistics, now VP Sales at Ledgerline"}
    assert other_lead_strings("", "Priya, your years at Harbor & Pine Logistics show.", lead, OTHERS) == []


# -------------------------------------------------------- limits and phrases
def test_word_limit_counts_words_not_emoji():
    assert words_over_limit(" ".join(["word"] * 100) + " \U0001f680", SKELETON) is None
    assert words_over_limit(" ".join(["word"] * 101), SKELETON) == (101, 100)
    assert words_over_limit("anything", {"max_words": None}) is None


def test_spam_phrases_match_whole_words_whatever_the_case_and_hyphens():
    assert spam_strings("Act NOW", "It is risk-free: click here.") == ["Act NOW", "click here", "risk-free"]
    assert spam_strings("Free coffee?", "A winnerless race, no urgency.") == []


def test_the_spam_list_ships_in_the_package_and_names_its_source():
    assert PHRASES_FILE.parent.name == "review" and PHRASES_FILE.parent.parent.parent.name == "shared"
    assert "Source: HubSpot" in PHRASES_FILE.read_text()


# ---------------------------------------------------------------- the review
def test_a_review_lists_every_flag_with_its_detail_and_evidence():
    body = "Hi {{first_name}},\n\nMarcus Oyelaran at Globex Corporation says act now.\n\n" + "word " * 100
    inputs = ReviewInputs(lead=PRIYA, skeleton=SKELETON, other_leads=OTHERS)
    review = review_email("An idea", body, inputs)
    assert review["verdict"] == "needs_review" and review["attempts"] == 1
    flags = {f["check"]: f for f in review["flags"]}
    assert set(flags) == {"unresolved_placeholder", "ungrounded_fact", "other_lead", "over_word_limit", "spam_phrase"}
    assert flags["unresolved_placeholder"]["evidence"] == ["{{first_name}}"]
    assert flags["ungrounded_fact"]["evidence"] == ["Marcus Oyelaran", "Globex Corporation"]
    assert flags["other_lead"]["evidence"] == ["Marcus Oyelaran"]
    assert flags["over_word_limit"]["evidence"] == ["110 words"]
    assert flags["spam_phrase"]["evidence"] == ["act now"]
    assert all(f["detail"].endswith(".") for f in review["flags"])


def test_a_clean_email_is_ok():
    body = "Hi Priya,\n\nCongrats on Ledgerline's $45M Series C. Open to a 15-minute call next week?\n\nBest,\nSam"
    review = review_email("Ledgerline's next step", body, ReviewInputs(lead=PRIYA, skeleton=SKELETON))
    assert review == {"verdict": "ok", "flags": [], "attempts": 1}


def test_a_check_that_raises_is_a_review_error_and_the_others_still_run(monkeypatch):
    def broken(subject, body, inputs):
        raise KeyError("boom")

    monkeypatch.setitem(review_module.CHECK_FUNCTIONS, "ungrounded_fact", broken)
    review = review_email("Hi", "Hi Priya, act now.", ReviewInputs(lead=PRIYA, skeleton=SKELETON))
    assert review["verdict"] == "needs_review"
    assert [(f["check"], f["evidence"]) for f in review["flags"]] == [
        ("review_error", ["ungrounded_fact"]), ("spam_phrase", ["act now"]),
    ]


@pytest.mark.parametrize("check", review_module.CHECKS)
def test_every_check_has_its_function(check):
    assert check in review_module.CHECK_FUNCTIONS
