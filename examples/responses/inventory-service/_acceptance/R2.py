"""R2: `Inventory.level(sku)` MUST equal the sum of all recorded movements of that SKU."""

import random
from decimal import Decimal

import pytest
from inventory.inventory import InsufficientStock, Inventory
from inventory.movements import Movement


def move(sku: str, quantity: int, cost: str = "1.00") -> Movement:
    return Movement(sku, quantity, Decimal(cost))


def test_the_level_is_the_sum_of_receipts_and_withdrawals():
    inventory = Inventory()
    for quantity in (10, -3, 7, -4, 1):
        inventory.record(move("bolt", quantity))
    assert inventory.level("bolt") == 10 - 3 + 7 - 4 + 1


def test_an_sku_without_movements_has_level_zero():
    inventory = Inventory()
    assert inventory.level("never-seen") == 0
    inventory.record(move("bolt", 4))
    assert inventory.level("never-seen") == 0


def test_only_the_movements_of_that_sku_count():
    inventory = Inventory()
    inventory.record(move("bolt", 10))
    inventory.record(move("nut", 20))
    inventory.record(move("bolt", -2))
    inventory.record(move("nut", -5))
    inventory.record(move("Bolt", 3))  # another SKU: SKUs are compared exactly
    assert inventory.level("bolt") == 8
    assert inventory.level("nut") == 15
    assert inventory.level("Bolt") == 3


def test_the_unit_cost_does_not_change_the_level():
    inventory = Inventory()
    inventory.record(move("bolt", 2, "0.01"))
    inventory.record(move("bolt", 3, "999.99"))
    assert inventory.level("bolt") == 5


def test_the_same_movement_recorded_twice_counts_twice():
    inventory = Inventory()
    receipt = move("bolt", 4)
    inventory.record(receipt)
    inventory.record(receipt)
    assert inventory.level("bolt") == 8


def test_a_refused_movement_is_not_recorded_so_it_is_not_summed():
    inventory = Inventory()
    inventory.record(move("bolt", 2))
    with pytest.raises(InsufficientStock):
        inventory.record(move("bolt", -3))
    assert inventory.level("bolt") == 2


def test_the_level_matches_the_sum_after_many_movements():
    rng = random.Random(7)  # fixed seed: the same sequence on every run
    inventory = Inventory()
    recorded: list[Movement] = []
    for _ in range(300):
        sku = rng.choice(["a", "b", "c", "d"])
        quantity = rng.choice([q for q in range(-5, 21) if q != 0])
        movement = move(sku, quantity)
        try:
            inventory.record(movement)
        except InsufficientStock:
            continue
        recorded.append(movement)
    assert recorded, "the sequence must record something"
    for sku in "abcd":
        assert inventory.level(sku) == sum(m.quantity for m in recorded if m.sku == sku)
