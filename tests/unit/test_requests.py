"""The request bodies: what the API accepts, rejects and passes on."""

import pytest
from pydantic import ValidationError

from outreach.models.requests import (
    MAX_LEADS_PER_CALL,
    ChatTurnRequest,
    CreateSessionRequest,
    GenerateExamplesRequest,
    Lead,
    UpdateSessionRequest,
)


def lead(i: int = 0, **fields) -> dict:
    return {"first_name": f"Ann{i}", "company": "Acme", **fields}


def generate(**body) -> GenerateExamplesRequest:
    return GenerateExamplesRequest.model_validate(body)


# ------------------------------------------------------------------ lead count
def test_zero_leads_rejected():
    with pytest.raises(ValidationError):
        generate(leads=[])


def test_missing_leads_rejected():
    with pytest.raises(ValidationError):
        generate(isFirstBatch=True)


def test_hundred_leads_accepted_in_order():
    assert MAX_LEADS_PER_CALL == 100
    request = generate(leads=[lead(i) for i in range(100)])
    assert [item.first_name for item in request.leads] == [f"Ann{i}" for i in range(100)]


def test_hundred_and_one_leads_rejected():
    with pytest.raises(ValidationError):
        generate(leads=[lead(i) for i in range(101)])


# ------------------------------------------------------------- identification
@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"position": "CTO", "headline": "Builds things"},
        {"custom_fields": {"industry": "fintech"}},
        {"first_name": "   ", "company": "\x00\x07"},  # nothing left once cleaned
        {"first_name": None, "company": None, "linkedin_url": None},
    ],
)
def test_lead_without_name_company_or_linkedin_rejected(fields):
    with pytest.raises(ValidationError):
        Lead.model_validate(fields)


@pytest.mark.parametrize(
    "fields",
    [
        {"first_name": "Ann"},
        {"last_name": "Lee"},
        {"full_name": "Ann Lee"},
        {"company": "Acme"},
        {"linkedin_url": "https://www.linkedin.com/in/ann-lee"},
    ],
)
def test_any_one_identifying_field_is_enough(fields):
    assert Lead.model_validate(fields).as_sent() == fields


def test_one_unidentifiable_lead_rejects_the_whole_request():
    with pytest.raises(ValidationError) as info:
        generate(leads=[lead(0), {"position": "CTO"}])
    assert info.value.errors()[0]["loc"][:2] == ("leads", 1)


# ---------------------------------------------------------------- string caps
def test_name_at_cap_accepted_and_over_cap_rejected():
    assert Lead(first_name="a" * 256).first_name == "a" * 256
    with pytest.raises(ValidationError):
        Lead(first_name="a" * 257)


@pytest.mark.parametrize(
    ("name", "cap"),
    [("company", 256), ("last_name", 256), ("full_name", 256), ("position", 256), ("headline", 2000),
     ("linkedin_url", 512)],
)
def test_every_lead_string_is_capped(name, cap):
    fields = {"first_name": "Ann", name: "x" * cap}
    assert getattr(Lead.model_validate(fields), name) == "x" * cap
    with pytest.raises(ValidationError):
        Lead.model_validate({**fields, name: "x" * (cap + 1)})


def test_prior_node_body_and_chat_message_are_capped():
    with pytest.raises(ValidationError):
        generate(leads=[lead()], sequenceContext={"prior_nodes": [{"body": "x" * 20001}]})
    with pytest.raises(ValidationError):
        ChatTurnRequest.model_validate({"message": "x" * 20001})


# ------------------------------------------------------------ text cleaning
def test_control_characters_are_stripped():
    cleaned = Lead(first_name="\x00Ann\x07", company="Ac\x1bme\x7f", position="\x85CTO\x9f")
    assert (cleaned.first_name, cleaned.company, cleaned.position) == ("Ann", "Acme", "CTO")


def test_surrounding_whitespace_trimmed_inner_newlines_kept():
    cleaned = Lead(first_name="  Ann  ", headline="Line one\nLine two\tend")
    assert cleaned.first_name == "Ann"
    assert cleaned.headline == "Line one\nLine two\tend"


@pytest.mark.parametrize(
    "value",
    ["Zoë Ångström", "José Müller-Łukasz", "🚀 Rocket 👩‍💻", "שרה כהן", "محمد العلي", "山田 太郎",
     "Ｆｕｌｌｗｉｄｔｈ"],
)
def test_unicode_text_kept_intact(value):
    assert Lead(first_name=value, company=value).as_sent() == {"first_name": value, "company": value}


# ------------------------------------------------------------ unknown fields
def test_unknown_lead_fields_ignored_and_as_sent_has_only_known_fields_sent():
    parsed = Lead.model_validate(
        {"first_name": "Ann", "company": "Acme", "email": "ann@acme.test", "score": {"a": 1}, "__proto__": 1}
    )
    assert parsed.as_sent() == {"first_name": "Ann", "company": "Acme"}


def test_as_sent_adds_no_defaults_and_keeps_explicit_null():
    assert Lead(company="Acme").as_sent() == {"company": "Acme"}
    assert Lead.model_validate({"company": "Acme", "position": None}).as_sent() == {"company": "Acme", "position": None}


def test_as_sent_is_the_cleaned_value():
    assert Lead.model_validate({"first_name": "\x00Ann "}).as_sent() == {"first_name": "Ann"}


def test_unknown_top_level_fields_ignored():
    request = generate(leads=[lead()], model="gpt-5", temperature=2, callbackUrl="http://x")
    assert len(request.leads) == 1
    assert not hasattr(request, "model") and not hasattr(request, "callbackUrl")


# ------------------------------------------------------------ custom fields
def test_custom_fields_scalars_kept_with_their_types():
    values = {"industry": "fintech", "employees": 250, "score": 4.5, "public": True, "nickname": None}
    assert Lead(first_name="Ann", custom_fields=values).as_sent()["custom_fields"] == values


@pytest.mark.parametrize("value", [{"nested": "x"}, ["a", "b"], [], {}])
def test_custom_fields_nested_values_rejected(value):
    with pytest.raises(ValidationError):
        Lead.model_validate({"first_name": "Ann", "custom_fields": {"thing": value}})


def test_custom_fields_must_be_an_object():
    with pytest.raises(ValidationError):
        Lead.model_validate({"first_name": "Ann", "custom_fields": ["industry", "fintech"]})


def test_custom_fields_at_most_fifty_keys():
    fifty = {f"k{i}": i for i in range(50)}
    assert len(Lead(first_name="Ann", custom_fields=fifty).custom_fields) == 50
    with pytest.raises(ValidationError):
        Lead(first_name="Ann", custom_fields={**fifty, "k50": 50})


def test_custom_field_values_are_capped():
    assert Lead(first_name="Ann", custom_fields={"note": "v" * 2000}).custom_fields["note"] == "v" * 2000
    with pytest.raises(ValidationError):
        Lead(first_name="Ann", custom_fields={"note": "v" * 2001})


def test_custom_field_key_over_64_chars_rejected():
    with pytest.raises(ValidationError):
        Lead(first_name="Ann", custom_fields={"k" * 65: "v"})


def test_custom_field_empty_key_rejected():
    with pytest.raises(ValidationError):
        Lead(first_name="Ann", custom_fields={"": "v"})


def test_custom_field_key_control_characters_stripped():
    assert Lead(first_name="Ann", custom_fields={"\x00industry\x07": "v"}).custom_fields == {"industry": "v"}


def test_available_var_names_are_capped_and_non_empty():
    for names in (["x" * 65], [""]):
        with pytest.raises(ValidationError):
            ChatTurnRequest.model_validate({"message": "hi", "availableVarNames": names})


def test_custom_field_values_are_cleaned():
    assert Lead(first_name="Ann", custom_fields={"note": "\x00hi\x07"}).custom_fields == {"note": "hi"}


# -------------------------------------------------------- camelCase aliases
def test_camel_case_sequence_context_and_first_batch_accepted():
    request = generate(
        leads=[lead()],
        isFirstBatch=True,
        sequenceContext={"position": 2, "total_nodes": 3, "prior_nodes": [{"subject": "Hi", "body": "First"}]},
    )
    assert request.is_first_batch is True
    assert request.sequence_context.position == 2
    assert request.sequence_context.total_nodes == 3
    assert request.sequence_context.prior_nodes[0].subject == "Hi"


def test_first_batch_defaults_to_false_and_context_to_none():
    request = generate(leads=[lead()])
    assert request.is_first_batch is False
    assert request.sequence_context is None


def test_snake_case_names_also_accepted():
    request = generate(leads=[lead()], is_first_batch=True, sequence_context={"position": 1})
    assert request.is_first_batch is True and request.sequence_context.position == 1


def test_sequence_context_positions_cannot_be_negative():
    with pytest.raises(ValidationError):
        generate(leads=[lead()], sequenceContext={"position": -1})


def test_sequence_context_accepts_the_documented_maximum():
    big = 4503599627370495
    request = generate(leads=[lead()], sequenceContext={"position": big, "total_nodes": big})
    assert request.sequence_context.position == big


def test_chat_turn_aliases_and_empty_message():
    request = ChatTurnRequest.model_validate(
        {"message": "Sell payroll", "availableVarNames": ["first_name"], "sampleLeads": [lead()]}
    )
    assert request.available_var_names == ["first_name"]
    assert request.sample_leads[0].first_name == "Ann0"
    for empty in ("", "   ", "\x00\x07"):
        with pytest.raises(ValidationError):
            ChatTurnRequest.model_validate({"message": empty})


def test_create_session_needs_campaign_and_node():
    assert CreateSessionRequest.model_validate({"campaign_id": "c1", "node_id": "n1"}).title is None
    for body in ({"node_id": "n1"}, {"campaign_id": "c1"}, {"campaign_id": "", "node_id": "n1"}):
        with pytest.raises(ValidationError):
            CreateSessionRequest.model_validate(body)


# ------------------------------------------------------------------- PATCH
def test_update_changes_only_named_fields():
    assert UpdateSessionRequest.model_validate({"title": "Q3 push"}).changes() == {"title": "Q3 push"}


def test_update_keeps_explicit_null():
    changes = UpdateSessionRequest.model_validate({"draft_body": None, "title": "T"}).changes()
    assert changes == {"draft_body": None, "title": "T"}


def test_update_with_nothing_named_changes_nothing():
    assert UpdateSessionRequest.model_validate({}).changes() == {}
    assert UpdateSessionRequest.model_validate({"skeleton": {"x": 1}, "task_status": None}).changes() == {}


def test_update_values_are_cleaned_and_capped():
    assert UpdateSessionRequest.model_validate({"draft_subject": "\x00Hi "}).changes() == {"draft_subject": "Hi"}
    with pytest.raises(ValidationError):
        UpdateSessionRequest.model_validate({"title": "t" * 201})
