"""A lead's stable identity across batches (what re-run replacement and dedup key on)."""

import pytest

from outreach.logic.leads import lead_id

BEA = {"first_name": "Beatrice", "last_name": "Quill", "company": "Zephyrcorp"}


def test_linkedin_url_is_the_id_trimmed():
    lead = {"first_name": "Beatrice", "linkedin_url": "  https://www.linkedin.com/in/bquill \n"}
    assert lead_id(lead) == "https://www.linkedin.com/in/bquill"


def test_linkedin_url_wins_over_names():
    a = {**BEA, "linkedin_url": "https://www.linkedin.com/in/bquill"}
    b = {"first_name": "Someone", "company": "Else", "linkedin_url": "https://www.linkedin.com/in/bquill"}
    assert lead_id(a) == lead_id(b) == "https://www.linkedin.com/in/bquill"


@pytest.mark.parametrize("url", [None, "", "   "])
def test_blank_linkedin_url_falls_back_to_hash(url):
    assert lead_id({**BEA, "linkedin_url": url}) == lead_id(BEA)
    assert lead_id(BEA).startswith("lead_")


def test_hash_id_is_stable_and_shaped():
    first = lead_id(BEA)
    assert first == lead_id(dict(BEA))
    suffix = first.removeprefix("lead_")
    assert len(suffix) == 24 and all(c in "0123456789abcdef" for c in suffix)


@pytest.mark.parametrize(
    "same",
    [
        {"first_name": "beatrice", "last_name": "QUILL", "company": "zephyrcorp"},
        {"first_name": "  Beatrice ", "last_name": "Quill  ", "company": " Zephyrcorp\t"},
        {"full_name": "Beatrice   Quill", "company": "Zephyrcorp"},
        {"full_name": "beatrice quill", "company": "ZEPHYRCORP", "position": "CTO", "headline": "anything"},
    ],
)
def test_hash_ignores_case_spacing_and_name_split(same):
    assert lead_id(same) == lead_id(BEA)


def test_hash_ignores_unicode_composition():
    composed = {"first_name": "Jos\u00e9", "company": "Caf\u00e9 Co"}
    decomposed = {"first_name": "Jose\u0301", "company": "Cafe\u0301 Co"}
    assert lead_id(composed) == lead_id(decomposed)


def test_hash_differs_by_company_and_by_name():
    assert lead_id(BEA) != lead_id({**BEA, "company": "Northwind"})
    assert lead_id(BEA) != lead_id({**BEA, "first_name": "Bea"})
    assert lead_id({"company": "Zephyrcorp"}) != lead_id(BEA)


def test_name_and_company_boundary_cannot_collide():
    # "Ann" at "Lee Corp" is not "Ann Lee" at "Corp".
    assert lead_id({"full_name": "Ann", "company": "Lee Corp"}) != lead_id({"full_name": "Ann Lee", "company": "Corp"})


def test_hash_id_does_not_contain_the_names_or_company():
    ident = lead_id(BEA).lower()
    for value in ("beatrice", "quill", "zephyrcorp"):
        assert value not in ident
