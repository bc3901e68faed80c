"""Stock levels from recorded movements."""

from collections import defaultdict

from inventory.movements import Movement


class InsufficientStock(Exception):
    pass


class Inventory:
    def __init__(self) -> None:
        self._movements: list[Movement] = []
        self._levels: dict[str, int] = defaultdict(int)

    def record(self, movement: Movement) -> None:
        level = self._levels[movement.sku]
        if level + movement.quantity < 0:
            raise InsufficientStock(
                f"{movement.sku}: {level} in stock, cannot withdraw {-movement.quantity}"
            )
        self._movements.append(movement)
        self._levels[movement.sku] = level + movement.quantity

    def level(self, sku: str) -> int:
        return sum(m.quantity for m in self._movements if m.sku == sku)

    def low_stock(self, threshold: int) -> list[str]:
        return sorted(sku for sku, level in self._levels.items() if level <= threshold)
