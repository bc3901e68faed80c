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
