"""Money as Decimal, cents as int."""

from decimal import ROUND_HALF_EVEN, Decimal

_CENT = Decimal("0.01")


def to_cents(amount: Decimal) -> int:
    if not isinstance(amount, Decimal):
        raise TypeError("amount must be a Decimal, not " + type(amount).__name__)
    return int((amount.quantize(_CENT, rounding=ROUND_HALF_EVEN) * 100).to_integral_value())


def from_cents(cents: int) -> Decimal:
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise TypeError("cents must be an int")
    return (Decimal(cents) / 100).quantize(_CENT)
