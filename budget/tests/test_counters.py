from __future__ import annotations

import time
from decimal import Decimal

import pytest

from budget.counters import BudgetCounters, Refusal


@pytest.fixture
def counters():
    counters = BudgetCounters()
    counters.load("plan", hard_cap=Decimal("1.00"), soft_cap=Decimal("0.70"), spent=Decimal(0))
    return counters


def test_a_reservation_that_would_pass_the_cap_is_refused(counters):
    first = counters.reserve("plan", Decimal("0.60"), ttl_seconds=60)
    assert isinstance(first, str)
    refused = counters.reserve("plan", Decimal("0.41"), ttl_seconds=60)
    # The refusal carries the figures it was decided on.
    assert refused == Refusal(Decimal(0), Decimal("0.600000"), Decimal("1.000000"))
    assert refused.fits_once_settled(Decimal("0.41"))
    assert isinstance(counters.reserve("plan", Decimal("0.40"), ttl_seconds=60), str)
    snapshot = counters.snapshot("plan")
    assert (snapshot.spent_usd, snapshot.reserved_usd) == (Decimal(0), Decimal("1.000000"))


def test_settling_charges_the_real_cost_and_releases_the_rest(counters):
    reservation = counters.reserve("plan", Decimal("0.60"), ttl_seconds=60)
    assert counters.settle("plan", reservation, Decimal("0.123456"))[:2] == (
        Decimal("0.123456"),
        Decimal("0.123456"),
    )
    snapshot = counters.snapshot("plan")
    assert (snapshot.spent_usd, snapshot.reserved_usd) == (Decimal("0.123456"), Decimal(0))
    assert counters.settle("plan", reservation, Decimal("0.1")) is None  # once only


def test_an_expired_reservation_is_charged_in_full(counters):
    reservation = counters.reserve("plan", Decimal("0.25"), ttl_seconds=0.01)
    time.sleep(0.02)
    assert counters.expired() == [("plan", reservation)]
    assert counters.settle("plan", reservation, None)[:2] == (Decimal("0.25"), Decimal("0.25"))
    assert counters.expired() == []


def test_reserving_before_loading_says_so():
    with pytest.raises(LookupError, match="not loaded"):
        BudgetCounters().reserve("never-loaded", Decimal("0.01"), ttl_seconds=60)


def test_loading_does_not_overwrite_live_counters(counters):
    counters.reserve("plan", Decimal("0.30"), ttl_seconds=60)
    counters.load("plan", hard_cap=Decimal("9"), soft_cap=Decimal("1"), spent=Decimal("5"))
    snapshot = counters.snapshot("plan")
    assert (snapshot.hard_cap_usd, snapshot.reserved_usd) == (Decimal("1.000000"), Decimal("0.3"))
