"""An amount of USD sent to the API: a string of digits, exact to the micro-dollar.

DRF's DecimalField also takes a JSON number (a float, rounded on the way in) and
surrounding blanks, and drf-spectacular documents it with a pattern that allows "" and
"-": what the schema promised and what the field took were different sets. Here they are
one: the pattern below is the field's whole grammar.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from execution.models import MONEY

INTEGER_DIGITS = MONEY["max_digits"] - MONEY["decimal_places"]
PATTERN = rf"^[0-9]{{1,{INTEGER_DIGITS}}}(\.[0-9]{{1,{MONEY['decimal_places']}}})?$"
_AMOUNT = re.compile(PATTERN.removesuffix("$") + r"\Z")


@extend_schema_field(
    {
        "type": "string",
        "format": "decimal",
        "pattern": PATTERN,
        "example": "12.50",
        "description": "USD as a string of digits, at most 6 decimals.",
    }
)
class AmountField(serializers.DecimalField):
    default_error_messages = {
        "not_amount": 'Send the amount in USD as a string of digits, e.g. "12.50" '
        f"(at most {INTEGER_DIGITS} digits before the point and "
        f"{MONEY['decimal_places']} after)."
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**MONEY, min_value=Decimal(0), **kwargs)

    def to_internal_value(self, data: Any) -> Decimal:
        if not isinstance(data, str) or not _AMOUNT.match(data):
            self.fail("not_amount")
        return super().to_internal_value(data)
