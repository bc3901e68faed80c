"""Provider prompt caching: the shared prefix is marked only when the model can cache it,
the stub bills writes and reads as the API does, and the ledger prices each bucket — through
the real SDK."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import anthropic
import pytest

from acceptance.generator import generate_tests
from budget.models import CostEntry
from budget.pricing import MILLION, price_for
from conftest import engine_db
from execution.actions import import_masterplan
from execution.llm import gateway
from execution.llm.prompt_cache import marked, min_cacheable_tokens, system_param
from execution.llm.types import LLMRequest
from execution.runtime.lifecycle import start_masterplan

SYSTEM = "You answer briefly."
LONG = "The code base, the same for every request of the plan. " * 200  # 11,200 chars


def request(shared: str = LONG, **changes: object) -> LLMRequest:
    base = LLMRequest(
        model="claude-sonnet-4-6", system=SYSTEM, shared_context=shared, max_tokens=64,
        messages=[{"role": "user", "content": "Say hi."}], cache="no-store",
    )  # fmt: skip
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_the_minimum_cacheable_length_is_the_model_familys_and_the_largest_when_unknown():
    assert min_cacheable_tokens("claude-sonnet-4-6") == 2048
    assert min_cacheable_tokens("claude-haiku-4-5-20251001") == 4096
    assert min_cacheable_tokens("claude-sonnet-4-5-20250929") == 1024
    assert min_cacheable_tokens("claude-sonnet-4-20250514") == 1024
    assert min_cacheable_tokens("someone-elses-model") == 4096


def test_only_a_prefix_the_model_can_cache_is_marked(settings):
    assert system_param(request(shared="")) == SYSTEM  # nothing shared: the plain prompt
    short = system_param(request(shared="A short overview."))
    assert short == [
        {"type": "text", "text": SYSTEM},
        {"type": "text", "text": "A short overview."},
    ]  # sent, in the same order, but under 2,048 tokens: not marked
    long = system_param(request())
    assert long[-1]["cache_control"] == {"type": "ephemeral", "ttl": "5m"}  # type: ignore[index]
    # 11,219 characters are at least 2,804 tokens for Sonnet 4.6, fewer than Haiku's 4,096.
    assert not marked(request(model="claude-haiku-4-5"))
    settings.MGE_PROMPT_CACHE_TTL = "1h"
    assert system_param(request())[-1]["cache_control"]["ttl"] == "1h"  # type: ignore[index]
    settings.MGE_PROMPT_CACHE = "off"
    assert "cache_control" not in system_param(request())[-1]


def _cost(entry: CostEntry) -> Decimal:
    """The entry's cost by hand: each bucket at its rate."""
    price = price_for(entry.model)
    five_minutes = entry.cache_creation_input_tokens - entry.cache_creation_1h_input_tokens
    return (
        entry.input_tokens * price.input
        + entry.output_tokens * price.output
        + five_minutes * price.cache_write_5m
        + entry.cache_creation_1h_input_tokens * price.cache_write_1h
        + entry.cache_read_input_tokens * price.cache_read
    ) / MILLION


@pytest.mark.django_db
@pytest.mark.parametrize("ttl", ["5m", "1h"])
def test_the_first_request_writes_the_prefix_the_next_read_it_and_each_is_priced_at_its_rate(
    stub_server, imported, settings, ttl
):
    settings.MGE_PROMPT_CACHE_TTL = ttl
    plan_id = str(imported("slugkit").pk)
    prefix_tokens = len(SYSTEM + LONG) // 4
    first = gateway.complete(request(masterplan_id=plan_id))
    second = gateway.complete(request(masterplan_id=plan_id, messages=[
        {"role": "user", "content": "Say hello."}]))  # fmt: skip
    assert first.usage.cache_creation_input_tokens == prefix_tokens
    assert first.usage.cache_creation_1h_input_tokens == (prefix_tokens if ttl == "1h" else 0)
    assert first.usage.cache_read_input_tokens == 0
    assert second.usage.cache_read_input_tokens == prefix_tokens
    assert second.usage.cache_creation_input_tokens == 0
    # Input tokens are the uncached rest, as the API counts them.
    assert 0 < second.usage.input_tokens < 10
    written, read = CostEntry.objects.filter(masterplan_id=plan_id).order_by("created_at")
    for entry, response in ((written, first), (read, second)):
        assert entry.cost_usd == response.cost_usd == _cost(entry).quantize(Decimal("0.000001"))
    assert written.cache_creation_input_tokens == prefix_tokens
    assert read.cache_read_input_tokens == prefix_tokens
    assert read.cost_usd < written.cost_usd / 5  # a read is a tenth of the input price


@pytest.mark.django_db
def test_the_stub_caches_nothing_under_the_models_minimum_as_the_api_does(stub_server):
    client = anthropic.Anthropic(api_key="test-key", base_url=stub_server.url)
    blocks = [{"type": "text", "text": "Short.", "cache_control": {"type": "ephemeral"}}]
    for _ in range(2):
        message = client.messages.create(
            model="claude-sonnet-4-6", max_tokens=16, system=blocks,  # type: ignore[arg-type]
            messages=[{"role": "user", "content": "Say hi."}],
        )  # fmt: skip
        assert message.usage.cache_creation_input_tokens == 0
        assert message.usage.cache_read_input_tokens == 0


OVERVIEW = "The service keeps stock levels per warehouse and tells clients about them. " * 120


def long_overview_plan() -> str:
    """Three atoms of one wave (Sonnet 4.6: medium) and a requirement, under an overview
    of 9,240 characters: a prefix every model family can cache."""
    atoms = "\n".join(
        f"              - name: part{n}\n                file: pkg/part{n}.py\n"
        f"                complexity: medium\n                spec: Define `part{n}()`."
        for n in range(3)
    )
    return (
        f"---\nname: long-overview\n---\n\n{OVERVIEW}\n\n## Requirements\n\n### MUST\n\n"
        "- `part0()` MUST return a string\n\n## Plan\n\n```yaml\nphases:\n  - name: P\n"
        "    milestones:\n      - name: M\n        tasks:\n          - name: T\n"
        f"            atoms:\n{atoms}\n```\n"
    )


@engine_db
def test_a_plans_atoms_and_tests_share_its_overview_through_the_prompt_cache(stub_server, run_jobs):
    masterplan = import_masterplan(long_overview_plan())
    start_masterplan(masterplan.pk)
    run_jobs()
    stub_server.configure(atom_texts={"": [
        "```python\nfrom pkg.part0 import part0\n\n\ndef test_r01() -> None:\n"
        "    assert isinstance(part0(), str)\n```"
    ]})  # fmt: skip
    assert generate_tests(masterplan.pk) == {"generated": 1, "llm": 1}
    for purpose, requests in (("atom", 3), ("test-generation", 1)):
        entries = list(CostEntry.objects.filter(masterplan=masterplan, purpose=purpose))
        assert len(entries) == requests
        written = {entry.cache_creation_input_tokens for entry in entries} - {0}
        assert len(written) == 1 and min(written) * 4 > len(OVERVIEW)
        if purpose == "atom":  # the first wrote the prefix, the others read it
            read = [entry.cache_read_input_tokens for entry in entries]
            assert sorted(read) == [0, *written, *written]
    tests = CostEntry.objects.get(masterplan=masterplan, purpose="test-generation")
    atoms = CostEntry.objects.filter(masterplan=masterplan, purpose="atom").first()
    # The tests' prefix starts with their own system prompt: a prefix of its own.
    assert atoms and tests.cache_creation_input_tokens != atoms.cache_creation_input_tokens
