"""Word splitting for slugs."""

import re

_WORD = re.compile(r"[A-Za-z0-9]+")


def split_words(text: str) -> list[str]:
    """The maximal runs of ASCII letters and digits, in order, lowercased."""
    return [word.lower() for word in _WORD.findall(text)]
