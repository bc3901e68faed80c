"""A stock movement: a receipt (positive) or a withdrawal (negative)."""

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Movement:
    sku: str
    quantity: int
    unit_cost: Decimal

    def __post_init__(self) -> None:
        if self.quantity == 0:
            raise ValueError("a movement moves something: quantity 0")
