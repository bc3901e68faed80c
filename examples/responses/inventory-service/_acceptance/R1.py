"""R1: Stock of an item MUST never become negative: a withdrawal larger than the stock
raises `InsufficientStock` and changes nothing."""

import random
from decimal import Decimal

import pytest
from inventory.inventory import InsufficientStock, Inventory
from inventory.movements import Movement

COST = Decimal("2.50")


def move(sku: str, quantity: int) -> Movement:
    return Movement(sku, quantity, COST)


def snapshot(inventory: Inventory, skus: list[str]) -> tuple:
    """Everything the inventory tells about its state, for before/after comparisons."""
    thresholds = (-1, 0, 1, 5, 10, 1000)
    return (
        {sku: inventory.level(sku) for sku in skus},
        {threshold: inventory.low_stock(threshold) for threshold in thresholds},
    )


def test_a_withdrawal_larger_than_the_stock_raises_and_changes_nothing():
    inventory = Inventory()
    inventory.record(move("apple", 5))
    inventory.record(move("pear", 3))
    before = snapshot(inventory, ["apple", "pear"])
    with pytest.raises(InsufficientStock):
        inventory.record(move("apple", -6))
    assert snapshot(inventory, ["apple", "pear"]) == before
    assert inventory.level("apple") == 5


def test_the_whole_stock_can_be_withdrawn_but_not_one_more():
    inventory = Inventory()
    inventory.record(move("apple", 5))
    inventory.record(move("apple", -5))
    assert inventory.level("apple") == 0
    with pytest.raises(InsufficientStock):
        inventory.record(move("apple", -1))
    assert inventory.level("apple") == 0


def test_the_stock_of_another_item_does_not_cover_a_withdrawal():
    inventory = Inventory()
    inventory.record(move("apple", 100))
    with pytest.raises(InsufficientStock):
        inventory.record(move("pear", -1))
    assert inventory.level("pear") == 0
    assert inventory.level("apple") == 100


def test_a_refused_withdrawal_of_an_unknown_sku_leaves_no_trace():
    # "changes nothing": the SKU must not start to exist (at level 0) because of a refusal.
    inventory = Inventory()
    inventory.record(move("apple", 5))
    before = snapshot(inventory, ["apple", "ghost"])
    with pytest.raises(InsufficientStock):
        inventory.record(move("ghost", -1))
    assert snapshot(inventory, ["apple", "ghost"]) == before
    assert "ghost" not in inventory.low_stock(10)


def test_insufficient_stock_is_an_exception_class():
    assert issubclass(InsufficientStock, Exception)


def test_no_sequence_of_movements_makes_a_stock_negative():
    rng = random.Random(20240611)  # fixed seed: the same sequence on every run
    inventory = Inventory()
    expected = {"a": 0, "b": 0, "c": 0}
    for _ in range(500):
        sku = rng.choice(sorted(expected))
        quantity = rng.choice([q for q in range(-8, 9) if q != 0])
        if expected[sku] + quantity < 0:
            with pytest.raises(InsufficientStock):
                inventory.record(move(sku, quantity))
        else:
            inventory.record(move(sku, quantity))
            expected[sku] += quantity
        for name, level in expected.items():
            assert inventory.level(name) == level
            assert level >= 0
