"""R3: Money MUST be handled as `Decimal` in Python (and as integer cents in JavaScript).

This file checks the Python side: amounts are Decimals, cents are ints, conversions are
exact (no float on the way), and floats are refused rather than silently rounded."""

from decimal import Decimal

import pytest
from inventory.money import from_cents, to_cents
from inventory.movements import Movement


@pytest.mark.parametrize(
    ("amount", "cents"),
    [
        ("0", 0),
        ("0.01", 1),
        ("0.10", 10),
        ("1", 100),
        ("12.34", 1234),
        ("1234.56", 123456),
        ("-5.25", -525),
    ],
)
def test_decimal_amounts_convert_to_int_cents_and_back(amount, cents):
    converted = to_cents(Decimal(amount))
    assert converted == cents
    assert type(converted) is int
    back = from_cents(cents)
    assert isinstance(back, Decimal)
    assert back == Decimal(amount)


def test_from_cents_gives_a_two_place_decimal():
    assert str(from_cents(5)) == "0.05"
    assert str(from_cents(1234)) == "12.34"
    assert str(from_cents(100)) == "1.00"
    assert from_cents(-150) == Decimal("-1.50")


def test_large_amounts_stay_exact():
    # A float holds about 16 digits: a conversion through float would lose these cents.
    amount = Decimal("12345678901234567.89")
    assert to_cents(amount) == 1234567890123456789
    assert from_cents(1234567890123456789) == amount


def test_sums_of_decimal_amounts_are_exact():
    total = sum((from_cents(10) for _ in range(3)), Decimal("0"))
    assert total == Decimal("0.30")  # 0.1 + 0.1 + 0.1 != 0.3 in floats
    assert to_cents(total) == 30


@pytest.mark.parametrize(("amount", "cents"), [("0.575", 58), ("1.015", 102), ("2.195", 220)])
def test_fractions_of_a_cent_are_rounded_in_decimal_not_in_float(amount, cents):
    # Half-up and half-even agree on these; a detour through float does not: 1.015 is
    # 1.01499999… as a float, so round(float * 100) and int(float * 100) both give 101.
    assert to_cents(Decimal(amount)) == cents


@pytest.mark.parametrize("value", [12.34, 0.1, 1.0, float("nan")])
def test_to_cents_refuses_floats(value):
    with pytest.raises(TypeError):
        to_cents(value)


@pytest.mark.parametrize("value", [12.5, 100.0])
def test_from_cents_refuses_floats(value):
    with pytest.raises(TypeError):
        from_cents(value)


def test_a_movement_keeps_its_unit_cost_as_the_decimal_given():
    movement = Movement("bolt", 3, Decimal("0.10"))
    assert isinstance(movement.unit_cost, Decimal)
    assert movement.unit_cost == Decimal("0.10")
    assert movement.unit_cost * movement.quantity == Decimal("0.30")
