"""Titles to URL slugs."""

from slugkit.folding import fold_accents
from slugkit.words import split_words


def slugify(text: str, separator: str = "-") -> str:
    """Fold accents, keep ASCII letters and digits, join the words with `separator`."""
    words = split_words(fold_accents(text))
    if not words:
        raise ValueError("nothing to slugify")
    return separator.join(words)
