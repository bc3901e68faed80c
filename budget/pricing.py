"""What an LLM call costs: the price table and the arithmetic, in Decimal USD.

Prices live in `budget/prices.json` (per model, with the date each price took effect);
`MGE_MODEL_PRICES` (settings, same row format) adds or replaces rows. A model without a
price is an error, never a silent $0.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from execution.llm.types import Usage

PRICE_FILE = Path(__file__).with_name("prices.json")
MILLION = Decimal(1_000_000)
MICRO = Decimal("0.000001")


class UnknownModel(LookupError):
    def __init__(self, model: str) -> None:
        super().__init__(
            f"no price for model {model!r}: add it to budget/prices.json or MGE_MODEL_PRICES"
        )


@dataclass(frozen=True)
class ModelPrice:
    """USD per million tokens."""

    model: str
    effective_from: dt.date
    input: Decimal
    output: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal

    @property
    def most_per_input_token(self) -> Decimal:
        """The dearest way an input token can be billed (a cache write costs more)."""
        return max(self.input, self.cache_write_5m, self.cache_write_1h, self.cache_read)


def _row(data: dict[str, Any]) -> ModelPrice:
    return ModelPrice(
        model=data["model"],
        effective_from=dt.date.fromisoformat(data["effective_from"]),
        **{
            name: Decimal(str(data[name]))
            for name in ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")
        },
    )


def load_price_table() -> tuple[list[ModelPrice], Decimal]:
    # Every LLM call is priced: parse the table once, again only if the settings' rows change.
    return _parsed_table(json.dumps(settings.MGE_MODEL_PRICES, sort_keys=True))


@functools.lru_cache(maxsize=8)
def _parsed_table(settings_rows: str) -> tuple[list[ModelPrice], Decimal]:
    data = json.loads(PRICE_FILE.read_text())
    rows = [_row(row) for row in data["models"]]
    rows += [_row(row) for row in json.loads(settings_rows)]
    return rows, Decimal(data["batch_discount"])


def price_for(model: str, on: dt.date | None = None) -> ModelPrice:
    """The price of `model` in effect on a date (today by default)."""
    on = on or timezone.now().date()
    rows, _ = load_price_table()
    effective = [row for row in rows if row.model == model and row.effective_from <= on]
    if not effective:
        raise UnknownModel(model)
    # The newest effective row; among rows of the same date the later one (settings) wins.
    return max(enumerate(effective), key=lambda item: (item[1].effective_from, item[0]))[1]


def cost_of(model: str, usage: Usage, *, batch: bool = False) -> Decimal:
    """The cost of a call's reported usage, rounded to the micro-dollar: each cache write
    at its TTL's rate (the provider reports the 1-hour ones apart), a batch call at the
    batch discount."""
    price = price_for(model)
    one_hour = min(usage.cache_creation_1h_input_tokens, usage.cache_creation_input_tokens)
    total = (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + (usage.cache_creation_input_tokens - one_hour) * price.cache_write_5m
        + one_hour * price.cache_write_1h
        + usage.cache_read_input_tokens * price.cache_read
    ) / MILLION
    if batch:
        total *= 1 - load_price_table()[1]
    return total.quantize(MICRO)


def worst_case_cost(model: str, input_bound: int, max_tokens: int) -> Decimal:
    """The most a call can cost: every input token at the dearest input rate, and the
    whole `max_tokens` answered. Rounded up, so a reservation never falls short."""
    price = price_for(model)
    total = (input_bound * price.most_per_input_token + max_tokens * price.output) / MILLION
    return total.quantize(MICRO, rounding="ROUND_CEILING")


def check_configured_models() -> None:
    """Every model the settings can choose has a price (called at start-up)."""
    for model in set(settings.MGE_MODEL_BY_COMPLEXITY.values()):
        price_for(model)
