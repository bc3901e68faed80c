"""R5: `Inventory.low_stock(threshold)` SHOULD list the SKUs at or below the threshold,
sorted by SKU."""

from decimal import Decimal

from inventory.inventory import Inventory
from inventory.movements import Movement


def stocked(levels: dict[str, int]) -> Inventory:
    """An inventory with these levels, each reached by a receipt then a withdrawal."""
    inventory = Inventory()
    for sku, level in levels.items():
        inventory.record(Movement(sku, level + 4, Decimal("1.00")))
        inventory.record(Movement(sku, -4, Decimal("1.00")))
    return inventory


# Inserted out of order, so a result in insertion order is not sorted by accident.
LEVELS = {"pear": 2, "apple": 5, "zucchini": 0, "banana": 10, "cherry": 2, "date": 3}


def test_the_skus_at_or_below_the_threshold_sorted_by_sku():
    inventory = stocked(LEVELS)
    assert inventory.low_stock(2) == ["cherry", "pear", "zucchini"]
    assert inventory.low_stock(3) == ["cherry", "date", "pear", "zucchini"]
    assert inventory.low_stock(5) == ["apple", "cherry", "date", "pear", "zucchini"]


def test_a_sku_exactly_at_the_threshold_is_listed():
    inventory = stocked({"bolt": 7})
    assert inventory.low_stock(7) == ["bolt"]
    assert inventory.low_stock(6) == []


def test_sold_out_skus_are_listed_at_threshold_zero():
    inventory = stocked(LEVELS)
    assert inventory.low_stock(0) == ["zucchini"]


def test_nothing_and_everything():
    inventory = stocked(LEVELS)
    assert inventory.low_stock(-1) == []
    assert inventory.low_stock(10) == sorted(LEVELS)
    assert Inventory().low_stock(100) == []


def test_the_list_follows_later_movements():
    inventory = stocked({"bolt": 3, "nut": 8})
    assert inventory.low_stock(5) == ["bolt"]
    inventory.record(Movement("nut", -4, Decimal("1.00")))
    inventory.record(Movement("bolt", 10, Decimal("1.00")))
    assert inventory.low_stock(5) == ["nut"]


def test_sorting_is_by_sku_text_not_by_level():
    inventory = stocked({"b": 0, "a": 4, "c": 1})
    assert inventory.low_stock(4) == ["a", "b", "c"]
