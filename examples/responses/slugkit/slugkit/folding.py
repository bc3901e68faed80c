"""Accent folding: "Déjà Vu" → "Deja Vu"."""

import unicodedata


def fold_accents(text: str) -> str:
    """Decompose the text and drop combining marks; characters without a base stay."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))
