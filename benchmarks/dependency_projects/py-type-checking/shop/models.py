from __future__ import annotations
from typing import TYPE_CHECKING
from dataclasses import dataclass
if TYPE_CHECKING:
    from shop.services.pricing import Price

@dataclass
class Item:
    price: "Price"
