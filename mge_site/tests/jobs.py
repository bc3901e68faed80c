"""Tiny job functions that tests enqueue (workers import them by dotted path)."""

from __future__ import annotations


def add(left: int, right: int) -> int:
    return left + right
