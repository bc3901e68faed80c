from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

from acceptance import classifier
from acceptance.classifier import Classification, classify, classify_with_llm, states_requirement

if TYPE_CHECKING:
    from execution.models import MasterPlan

LABELLED = yaml.safe_load(
    (Path(__file__).parent / "requirements_labelled.yaml").read_text(encoding="utf-8")
)


@pytest.fixture
def no_llm(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the keyword classification must not call the LLM")

    monkeypatch.setattr(classifier.gateway, "complete", refuse)


def test_the_labelled_set_is_large_and_varied():
    assert len(LABELLED) >= 60
    assert sum(1 for item in LABELLED if "heading" not in item) >= 50
    assert {item["expected"] for item in LABELLED} == {"must", "should"}


def test_keywords_classify_the_labelled_set_with_at_least_95_percent_accuracy(no_llm):
    wrong = [
        item
        for item in LABELLED
        if classify(item["text"], item.get("heading")).priority != item["expected"]
    ]
    accuracy = 1 - len(wrong) / len(LABELLED)
    assert accuracy >= 0.95, f"accuracy {accuracy:.1%}; misclassified: {wrong}"


def test_every_labelled_contradiction_of_a_heading_is_flagged_and_no_other(no_llm):
    under_heading = [item for item in LABELLED if "heading" in item]
    flagged = [item for item in under_heading if classify(item["text"], item["heading"]).flag]
    assert flagged == [item for item in under_heading if item.get("flagged")]


# --- headings -----------------------------------------------------------------------------


def test_the_heading_decides_and_an_agreeing_keyword_raises_no_flag():
    assert classify("Stock MUST never be negative", "must") == Classification("must", "heading")


def test_a_keyword_against_the_heading_is_named_in_the_flag():
    assert classify("Caching SHOULD be used and MAY be tuned", "must") == Classification(
        "must",
        "heading",
        "the keywords 'SHOULD' and 'MAY' contradict its MUST heading; the heading decides",
    )


# --- keywords -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "priority"),
    [
        ("It MUST work", "must"),
        ("It MUST NOT crash", "must"),
        ("It SHALL work", "must"),
        ("It SHALL NOT crash", "must"),
        ("A token is REQUIRED", "must"),
        ("It SHOULD work", "should"),
        ("It SHOULD NOT crash", "should"),
        ("TLS 1.3 is RECOMMENDED", "should"),
        ("MD5 is NOT RECOMMENDED", "should"),
        ("It MAY cache", "should"),
        ("A nonce is OPTIONAL", "should"),
        ("Two-factor login is mandatory", "must"),
        ("Ledger integrity is critical", "must"),
        ("Users could pin projects", "should"),
        ("Dark mode is nice to have", "should"),
        ("Dark mode is a nice-to-have", "should"),
        ("Shortcuts are desirable", "should"),
        ("It mustn't crash", "must"),
        ("It mustn’t crash", "must"),
        ("It shouldn't block", "should"),
        ("Login is not required for /health", "should"),
    ],
)
def test_each_keyword_gives_its_class(text, priority):
    assert classify(text) == Classification(priority, "keyword")


@pytest.mark.parametrize(
    ("text", "priority"),
    [
        # RFC 8174: capitals are the normative keywords; lowercase ones beside them are prose.
        ("The server MUST reject it, as a client should expect", "must"),
        ("Clients SHOULD cache it; it must be fetched once", "should"),
        # A modal verb outweighs the weaker words, which prose uses in other senses.
        ("All required fields should be marked", "should"),
        ("The optional note must stay short", "must"),
    ],
)
def test_the_strongest_kind_of_keyword_decides(text, priority):
    assert classify(text) == Classification(priority, "keyword")


@pytest.mark.parametrize(
    "text",
    [
        "The mustard banner is yellow",
        "The shoulder widget is wide",
        "Shallow copies are cheap",
        "Mayfair is in London",
        "`should_retry()` returns False",
        "`MUST` is the name of a constant",
        "Requirements are listed below",
    ],
)
def test_words_that_only_contain_a_keyword_do_not_count(text):
    assert classify(text).classified_by == "default"


# --- ambiguous text -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("Passwords are hashed with Argon2id", "no requirement keyword and no MUST/SHOULD heading"),
        ("Users MAY NOT share keys", "'MAY NOT' can grant or forbid"),
        ("It must be fast and should be small", "conflicting keywords 'must' and 'should'"),
    ],
)
def test_ambiguous_text_defaults_to_must_with_a_flag_saying_why(text, why):
    assert classify(text) == Classification(
        "must", "default", f"{why}: must by default (the safer choice)"
    )


def test_prose_counts_as_a_requirement_only_with_a_capital_keyword_or_a_modal_verb():
    assert states_requirement("The API MAY compress answers.")
    assert states_requirement("The API must answer in JSON.")
    assert not states_requirement("The required fields are listed; this may change.")
    assert not states_requirement("A critical component, optional in tests.")


# --- the LLM ------------------------------------------------------------------------------

UNCLEAR = ["A dark mode toggle", "Passwords are hashed", "It must be fast and should be small"]
NO_KEYWORD = "no requirement keyword and no MUST/SHOULD heading"


@pytest.fixture
def masterplan_id(imported: Callable[[str], MasterPlan]) -> str:
    return str(imported("slugkit").pk)


@pytest.mark.django_db
def test_one_llm_request_classifies_every_unclear_requirement(stub_server, masterplan_id):
    stub_server.configure(atom_texts={"": ["2: MUST\n1: SHOULD\n3: must\n"]})
    assert classify_with_llm(UNCLEAR, masterplan_id) == [
        Classification("should", "llm", f"{NO_KEYWORD}: the LLM chose should"),
        Classification("must", "llm", f"{NO_KEYWORD}: the LLM chose must"),
        Classification(
            "must", "llm", "conflicting keywords 'must' and 'should': the LLM chose must"
        ),
    ]
    assert stub_server.stats.requests == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "answer",
    [
        "1: SHOULD\n2: MUST",  # one missing
        "1: SHOULD\n2: MUST\n3: MUST\n4: MUST",  # one too many
        "1: SHOULD\n2: MAYBE\n3: MUST",
        "1: SHOULD\n1: MUST\n3: MUST",
        "Sure! Here you go:\n1: SHOULD\n2: MUST\n3: MUST",
        "",
    ],
)
def test_an_answer_off_the_format_leaves_every_one_at_the_default(
    stub_server, masterplan_id, answer
):
    stub_server.configure(atom_texts={"": [answer]})
    results = classify_with_llm(UNCLEAR, masterplan_id)
    assert [(r.priority, r.classified_by) for r in results] == [("must", "default")] * 3
    assert results[0].flag == f"{NO_KEYWORD}: the LLM's answer was unreadable, so must by default"


@pytest.mark.django_db
def test_a_provider_error_leaves_every_one_at_the_default(stub_server, masterplan_id):
    stub_server.configure(failing_atoms={"": 400})
    results = classify_with_llm(UNCLEAR[:1], masterplan_id)
    assert [(r.priority, r.classified_by) for r in results] == [("must", "default")]
    assert results[0].flag.startswith(f"{NO_KEYWORD}: the LLM did not answer (")


@pytest.mark.django_db
def test_a_call_the_budget_refuses_leaves_every_one_at_the_default(stub_server, imported, settings):
    masterplan = imported("slugkit")
    masterplan.budget_hard_cap_usd = masterplan.budget_soft_cap_usd = 0
    masterplan.save()
    results = classify_with_llm(UNCLEAR[:1], str(masterplan.pk))
    assert [(r.priority, r.classified_by) for r in results] == [("must", "default")]
    assert "does not fit under the hard cap" in results[0].flag
    assert stub_server.stats.requests == 0
