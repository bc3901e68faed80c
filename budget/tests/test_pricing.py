from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from decimal import Decimal

import pytest
from django.conf import settings

from budget.pricing import UnknownModel, cost_of, price_for, worst_case_cost
from execution.llm.types import Usage

MILLION = 1_000_000


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (Usage(input_tokens=MILLION), Decimal("3")),
        (Usage(output_tokens=MILLION), Decimal("15")),
        (Usage(cache_creation_input_tokens=MILLION), Decimal("3.75")),
        (Usage(cache_read_input_tokens=MILLION), Decimal("0.30")),
        (Usage(input_tokens=1200, output_tokens=350), Decimal("0.008850")),
    ],
)
def test_every_token_bucket_of_sonnet_has_its_price(usage, expected):
    assert cost_of("claude-sonnet-4-6", usage) == expected


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        # Haiku 4.5 per million: input $1, output $5, 5-minute write $1.25, 1-hour $2, read $0.10.
        (Usage(cache_creation_input_tokens=MILLION), Decimal("1.25")),
        (Usage(cache_creation_input_tokens=MILLION, cache_creation_1h_input_tokens=MILLION),
         Decimal("2")),
        # 600k written for 5 minutes ($0.75) and 400k for an hour ($0.80).
        (Usage(cache_creation_input_tokens=MILLION, cache_creation_1h_input_tokens=400_000),
         Decimal("1.55")),
        # Every bucket at once: 1200 in $0.0012, 300 out $0.0015, 2000 5-minute writes
        # $0.0025, 1000 1-hour writes $0.002, 5000 reads $0.0005.
        (Usage(input_tokens=1200, output_tokens=300, cache_creation_input_tokens=3000,
               cache_creation_1h_input_tokens=1000, cache_read_input_tokens=5000),
         Decimal("0.007700")),
    ],
)  # fmt: skip
def test_each_cache_write_is_priced_at_its_ttls_rate(usage, expected):
    assert cost_of("claude-haiku-4-5", usage) == expected


def test_every_bucket_of_a_batch_call_is_half_price():
    usage = Usage(input_tokens=1200, output_tokens=300, cache_creation_input_tokens=3000,
                  cache_creation_1h_input_tokens=1000, cache_read_input_tokens=5000)  # fmt: skip
    assert cost_of("claude-haiku-4-5", usage, batch=True) == Decimal("0.003850")


def test_batch_calls_cost_half():
    usage = Usage(input_tokens=MILLION, output_tokens=MILLION)
    assert cost_of("claude-opus-4-6", usage) == Decimal("30")
    assert cost_of("claude-opus-4-6", usage, batch=True) == Decimal("15")


def test_the_seeds_gpt4_row():
    assert cost_of("gpt-4", Usage(input_tokens=MILLION, output_tokens=MILLION)) == Decimal("40")


def test_an_unknown_model_is_an_error_not_zero():
    with pytest.raises(UnknownModel, match="no price for model 'claude-imaginary'"):
        cost_of("claude-imaginary", Usage(input_tokens=10))


def test_settings_add_rows_and_the_newest_effective_row_wins(settings):
    settings.MGE_MODEL_PRICES = [
        {"model": "claude-haiku-4-5", "effective_from": "2026-06-01", "input": "2",
         "output": "8", "cache_write_5m": "2.5", "cache_write_1h": "4", "cache_read": "0.2"},
    ]  # fmt: skip
    assert price_for("claude-haiku-4-5", on=dt.date(2026, 1, 1)).input == Decimal("1")
    assert price_for("claude-haiku-4-5", on=dt.date(2026, 7, 1)).input == Decimal("2")


def test_the_worst_case_prices_input_at_the_dearest_rate_and_rounds_up():
    # 1,000 input tokens at the 1 h cache-write rate ($6/M) + 100 output at $15/M.
    assert worst_case_cost("claude-sonnet-4-6", 1000, 100) == Decimal("0.007500")
    assert worst_case_cost("claude-sonnet-4-6", 1, 0) == Decimal("0.000006")


def test_start_up_refuses_a_configured_model_without_a_price():
    started = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "mge_site.settings",
            "MGE_MODEL_BY_COMPLEXITY": '{"low": "x-1", "medium": "claude-sonnet-4-6", '
            '"high": "claude-opus-4-6"}',
        },
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
    )
    assert started.returncode != 0
    assert "no price for model 'x-1'" in started.stderr


@pytest.mark.django_db
def test_the_ledger_prices_the_cache_writes_the_provider_reports_by_ttl(stub_server, imported):
    """Through the real SDK: the stub reports 1-hour and 5-minute writes apart, as the
    Messages API does (usage.cache_creation), and the ledger prices each at its rate."""
    from budget.models import CostEntry
    from execution.llm import gateway
    from execution.llm.types import LLMRequest

    masterplan = imported("slugkit")
    stub_server.configure(cache_tokens={"write_5m": 2000, "write_1h": 1000, "read": 5000})
    request = LLMRequest(
        model="claude-haiku-4-5", system="", max_tokens=16,
        messages=[{"role": "user", "content": "Say hi."}],
        masterplan_id=str(masterplan.pk), purpose="test",
    )  # fmt: skip
    response = gateway.complete(request)
    entry = CostEntry.objects.get()
    assert (entry.cache_creation_input_tokens, entry.cache_creation_1h_input_tokens) == (3000, 1000)
    assert entry.cache_read_input_tokens == 5000
    tokens = Decimal(response.usage.input_tokens) * 1 + Decimal(response.usage.output_tokens) * 5
    by_hand = (tokens + 2000 * Decimal("1.25") + 1000 * 2 + 5000 * Decimal("0.10")) / MILLION
    assert entry.cost_usd == by_hand.quantize(Decimal("0.000001")) == response.cost_usd
