from __future__ import annotations

import re
from decimal import Decimal

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.filter
def percent_of(value: Decimal | int | None, total: Decimal | int | None) -> str:
    """`value` as a percentage of `total`, clamped to 0–100, for CSS widths."""
    if not total or value is None:
        return "0"
    share = Decimal(value) * 100 / Decimal(total)
    return f"{min(max(share, Decimal(0)), Decimal(100)):.1f}"


@register.filter
def usd(value: Decimal | int | str | None) -> str:
    """Money as every page shows it: to the micro-dollar, without trailing zeros but with at
    least cents — `$5.00`, `$0.004`, `$0.000554`, `$1,250.50` — so a $0.004 cap is not
    "$0.00" and two amounts that differ never read the same."""
    if value is None or value == "":
        return "—"
    amount = Decimal(value).quantize(Decimal("0.000001"))
    digits = f"{abs(amount):,.6f}".rstrip("0")
    whole, _, decimals = digits.partition(".")
    return f"{'-' * (amount < 0)}${whole}.{decimals.ljust(2, '0')}"


@register.filter
def words(value: str) -> str:
    """`paused_budget` → `paused budget`."""
    return str(value).replace("_", " ")


@register.filter
def get_item(mapping: dict[str, object], key: str) -> object:
    return mapping.get(key)


_INLINE_CODE = re.compile(r"`([^`]+)`")


@register.filter
def inline_code(text: str) -> SafeString:
    """Markdown's `code` spans as <code>, everything else escaped."""
    return mark_safe(_INLINE_CODE.sub(r"<code>\1</code>", escape(text)))  # noqa: S308
