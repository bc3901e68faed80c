"""Message Batches through the real SDK against the loopback stub: requests collected into
one batch, sent when full or after the timeout, items that fail asked again alone, the
ledger at the batch price, and acceptance tests generated in batches."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from acceptance.generator import generate_tests
from acceptance.models import AcceptanceTest
from budget.abandoned import settle_expired
from budget.models import CostEntry
from conftest import billed_usd, engine_db
from execution import events
from execution.llm import gateway
from execution.llm.types import LLMRequest, LLMResponse

# USD per million tokens (budget/prices.json) and the batch discount, by hand.
PRICES = {
    "claude-haiku-4-5": (Decimal(1), Decimal(5)),
    "claude-sonnet-4-6": (Decimal(3), Decimal(15)),
}
BATCH_SHARE = Decimal("0.5")


@pytest.fixture
def batching(stub_server, settings):
    settings.MGE_LLM_BATCH = "on"
    settings.MGE_LLM_BATCH_POLL_SECONDS = Decimal("0.02")
    stub_server.configure(batch_processing_seconds=0.05)
    return stub_server


def question(number: int) -> LLMRequest:
    return LLMRequest(
        model="claude-haiku-4-5", system="You answer briefly.", max_tokens=64,
        messages=[{"role": "user", "content": f"Question {number}: say hi."}], batch=True,
    )  # fmt: skip


def ask_from_threads(
    requests: list[LLMRequest], ask: Callable[[LLMRequest], Any] = gateway.complete
) -> list[Any]:
    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(ask, requests))


def test_ten_requests_from_threads_go_as_one_batch(batching, settings):
    settings.MGE_LLM_BATCH_TIMEOUT_MS = 5000  # a full batch does not wait for it
    started = time.monotonic()
    responses = ask_from_threads([question(number) for number in range(10)])
    assert time.monotonic() - started < 4
    assert batching.stats.batch_sizes == [10]
    assert batching.stats.requests == 0  # no POST /v1/messages
    assert all(response.batched and response.text for response in responses)
    batch_ids = {response.request_id.split("/")[0] for response in responses}
    assert len(batch_ids) == 1 and batch_ids.pop().startswith("msgbatch_")
    assert len({response.request_id for response in responses}) == 10


def test_fewer_than_a_batch_are_sent_after_the_timeout(batching, settings):
    settings.MGE_LLM_BATCH_TIMEOUT_MS = 300
    started = time.monotonic()
    responses = ask_from_threads([question(number) for number in range(3)])
    assert time.monotonic() - started >= 0.3
    assert batching.stats.batch_sizes == [3]
    assert all(response.batched for response in responses)


def test_more_than_a_batch_are_sent_as_several(batching, settings):
    settings.MGE_LLM_BATCH_SIZE = 4
    responses = ask_from_threads([question(number) for number in range(10)])
    assert sorted(batching.stats.batch_sizes) == [2, 4, 4]
    assert all(response.batched for response in responses)


class Events:
    """A listener that keeps the kinds and data of every event emitted."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def begin(self, scope: events.Scope, run_db: Callable[..., Any]) -> Events:
        return self

    def event(self, kind: str, data: dict[str, Any]) -> None:
        self.seen.append((kind, data))

    def end(self, status: str, data: dict[str, Any]) -> None:
        pass


def test_an_errored_and_an_expired_item_fall_back_to_normal_calls_alone(batching, monkeypatch):
    batching.configure(batch_item_failures={"Question 1:": "errored", "Question 2:": "expired"})
    listener = Events()
    monkeypatch.setattr(events, "_listeners", [listener])

    def observed(request: LLMRequest) -> LLMResponse:
        with events.observed(events.Scope(kind="requirement", masterplan_id="m")):
            return gateway.complete(request)

    responses = ask_from_threads([question(number) for number in range(4)], observed)
    assert batching.stats.batch_sizes == [4]
    assert [response.batched for response in responses] == [True, False, False, True]
    assert all(response.text for response in responses)
    assert batching.stats.requests == 2  # the two that failed, asked with normal calls
    fallbacks = sorted(data["reason"] for kind, data in listener.seen if kind == "batch_fallback")
    assert fallbacks == ["errored: injected batch item error", "expired"]
    assert sum(kind == "batch_answered" for kind, _ in listener.seen) == 2


def test_batching_off_or_unmarked_requests_are_normal_calls(batching, settings):
    unmarked = LLMRequest(model="claude-haiku-4-5", system="", max_tokens=16,
                          messages=[{"role": "user", "content": "Say hi."}])  # fmt: skip
    assert not gateway.complete(unmarked).batched
    settings.MGE_LLM_BATCH = "off"
    assert not gateway.complete(question(1)).batched
    assert batching.stats.batch_sizes == [] and batching.stats.requests == 2


def test_a_batch_still_running_after_the_longest_wait_is_cancelled_and_its_items_asked_again(
    batching, settings
):
    settings.MGE_LLM_BATCH_TIMEOUT_MS = 10
    settings.MGE_LLM_BATCH_MAX_WAIT_SECONDS = 0.2
    batching.configure(batch_processing_seconds=60)
    responses = ask_from_threads([question(number) for number in range(2)])
    assert not any(response.batched for response in responses)
    assert batching.stats.batches_canceled == 1 and batching.stats.requests == 2
    assert all(not bill.batch for bill in batching.stats.billed)  # the canceled items unbilled


def hand_priced_batch_cost(entry: CostEntry) -> Decimal:
    input_price, output_price = PRICES[entry.model]
    full = (entry.input_tokens * input_price + entry.output_tokens * output_price) / 1_000_000
    return (full * BATCH_SHARE).quantize(Decimal("0.000001"))


def written_tests(masterplan: Any) -> list[tuple[str, str, str, str, str]]:
    return list(
        AcceptanceTest.objects.filter(masterplan=masterplan)
        .order_by("requirement__position")
        .values_list("file_path", "framework", "code", "status", "generated_by")
    )


@pytest.mark.django_db
def test_an_example_plans_tests_are_generated_in_batches_the_same_and_at_the_batch_price(
    batching, settings, imported
):
    masterplan = imported("slugkit")
    requirements = masterplan.requirements.count()
    settings.MGE_LLM_BATCH = "off"
    generate_tests(masterplan.pk)
    one_by_one = written_tests(masterplan)
    assert batching.stats.requests == requirements and batching.stats.batch_sizes == []

    settings.MGE_LLM_BATCH = "on"
    batching.reset()
    batching.configure(batch_processing_seconds=0.05)
    counts = generate_tests(masterplan.pk)  # all again, asking the model (not the cache)
    assert counts == {"generated": requirements, "llm": requirements}
    assert written_tests(masterplan) == one_by_one
    assert len(batching.stats.batch_sizes) == math.ceil(requirements / 10)
    assert sum(batching.stats.batch_sizes) == requirements and batching.stats.requests == 0

    batched = CostEntry.objects.filter(masterplan=masterplan, batch=True)
    assert batched.count() == requirements
    assert all(entry.purpose == "test-generation" for entry in batched)
    assert all(entry.cost_usd == hand_priced_batch_cost(entry) > 0 for entry in batched)
    # The ledger's batch entries are what the provider billed, at its batch price.
    assert sum(entry.cost_usd for entry in batched) == billed_usd(batching)


@pytest.mark.django_db
def test_a_batch_that_cannot_be_created_falls_back_and_the_tests_are_still_written(
    batching, imported
):
    masterplan = imported("slugkit")
    requirements = masterplan.requirements.count()
    batching.configure(batch_create_status=500)
    assert generate_tests(masterplan.pk) == {"generated": requirements, "llm": requirements}
    assert batching.stats.batch_sizes == [] and batching.stats.requests == requirements
    entries = CostEntry.objects.filter(masterplan=masterplan)
    assert entries.count() == requirements and not entries.filter(batch=True).exists()
    assert sum(entry.cost_usd for entry in entries) == billed_usd(batching)


@pytest.mark.django_db
def test_the_classification_of_unclear_requirements_goes_in_a_batch(batching, imported):
    from acceptance.classifier import classify_with_llm

    masterplan = imported("slugkit")
    batching.configure(atom_texts={"": ["1: SHOULD\n2: MUST"]})
    classified = classify_with_llm(
        ["Slugs are short.", "Slugs may not repeat."], str(masterplan.pk)
    )
    assert [item.priority for item in classified] == ["should", "must"]
    assert batching.stats.batch_sizes == [1] and batching.stats.requests == 0
    entry = CostEntry.objects.get(masterplan=masterplan, purpose="classification")
    assert entry.batch and entry.cost_usd == hand_priced_batch_cost(entry)


@engine_db
def test_a_batch_that_outlives_its_reservation_corrects_the_estimate_at_the_batch_price(
    batching, settings, imported
):
    settings.MGE_BUDGET_RESERVATION_TTL_SECONDS = 1
    settings.MGE_LLM_BATCH_TIMEOUT_MS = 10
    batching.configure(batch_processing_seconds=2.5)
    masterplan = imported("slugkit")
    request = dataclasses.replace(question(1), masterplan_id=str(masterplan.pk))

    def ask() -> LLMResponse:
        try:
            return gateway.complete(request)
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(ask)
        time.sleep(1.5)
        # Its reservation lapsed while the batch ran: charged at an estimate meanwhile.
        assert settle_expired() == 1
        estimated = CostEntry.objects.get(masterplan=masterplan)
        assert estimated.kind == CostEntry.Kind.ESTIMATED and not estimated.batch
        response = answer.result()
    entry = CostEntry.objects.get(masterplan=masterplan)
    assert entry.kind == CostEntry.Kind.SETTLED and entry.batch and response.batched
    assert entry.cost_usd == hand_priced_batch_cost(entry) == response.cost_usd
