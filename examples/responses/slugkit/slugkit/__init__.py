"""slugkit: titles to URL slugs, unique when they collide."""

from slugkit.slugify import slugify
from slugkit.truncate import truncate_slug
from slugkit.unique import UniqueSlugger

__all__ = ["UniqueSlugger", "slugify", "truncate_slug"]
