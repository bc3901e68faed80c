"""One money format on every page: small caps are not "$0.00", different amounts differ."""

from __future__ import annotations

from decimal import Decimal

import pytest

from execution.models import MasterPlan
from execution.templatetags.mge_format import usd


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (Decimal("5"), "$5.00"),
        (Decimal("3.500000"), "$3.50"),
        (Decimal("0.004"), "$0.004"),
        (Decimal("0.000554"), "$0.000554"),
        (Decimal("0"), "$0.00"),
        (Decimal("1250.5"), "$1,250.50"),
        (Decimal("99999999.000001"), "$99,999,999.000001"),
        (Decimal("-0.25"), "-$0.25"),
        (None, "—"),
    ],
)
def test_usd_keeps_every_micro_dollar_and_at_least_cents(amount, shown):
    assert usd(amount) == shown


@pytest.mark.django_db
def test_a_small_cap_reads_as_itself_on_the_pages(client, viewer, imported):
    masterplan = imported("slugkit")
    MasterPlan.objects.filter(pk=masterplan.pk).update(
        budget_soft_cap_usd=Decimal("0.002"), budget_hard_cap_usd=Decimal("0.004")
    )
    client.force_login(viewer)
    pages = {
        "/": ["$0.00 / $0.004"],  # the budget bar: spent / hard cap
        f"/masterplans/{masterplan.pk}/": ["soft cap $0.002 · hard cap $0.004"],
        f"/masterplans/{masterplan.pk}/budget/": ["soft $0.002 · hard $0.004"],
    }
    for url, expected in pages.items():
        page = client.get(url).content.decode()
        for text in expected:
            assert text in page, (url, text)
