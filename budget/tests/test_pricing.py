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


def test_one_hour_cache_writes_cost_twice_the_input():
    usage = Usage(cache_creation_input_tokens=MILLION)
    assert cost_of("claude-haiku-4-5", usage, cache_write_ttl="1h") == Decimal("2")


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
