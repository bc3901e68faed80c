"""Unique slugs when titles collide: "title", "title-2", "title-3" …"""

from collections.abc import Iterable

from slugkit.slugify import slugify


class UniqueSlugger:
    def __init__(self, taken: Iterable[str] = ()) -> None:
        self._taken = set(taken)

    def slug(self, text: str) -> str:
        base = slugify(text)
        candidate, number = base, 1
        while candidate in self._taken:
            number += 1
            candidate = f"{base}-{number}"
        self._taken.add(candidate)
        return candidate
