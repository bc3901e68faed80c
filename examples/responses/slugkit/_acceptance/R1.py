"""R1: `slugify(text)` MUST return only lowercase ASCII letters, digits and single hyphens,
with no hyphen at the start or the end."""

import re

import pytest
from slugkit.slugify import slugify

# The whole shape in one pattern: words of [a-z0-9] joined by exactly one hyphen.
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")

TITLES = [
    "Hello World",
    "Déjà Vu: 10 Tips!",
    "  --Leading and trailing--  ",
    "Many   spaces\tand\ttabs\nand lines",
    "Punctuation!!! everywhere??? (really) [yes] {ok}",
    "already-a-slug",
    "double--hyphen---triple",
    "under_score and.dots/and\\slashes",
    "UPPER lower MiXeD 123",
    "Emoji 🎉 party 🎉 time",
    "Ünïcödé Çharacters ñ",
    "C++ & C# — em dash – en dash",
    "1999",
    "x",
    "ﬁne ligature and ①②③ circled digits",
]


@pytest.mark.parametrize("title", TITLES)
def test_the_slug_has_only_lowercase_ascii_words_joined_by_single_hyphens(title):
    slug = slugify(title)
    assert SLUG.fullmatch(slug), f"{title!r} gave {slug!r}"
    assert slug.isascii()
    assert slug == slug.lower()
    assert "--" not in slug
    assert not slug.startswith("-") and not slug.endswith("-")


def test_the_exact_slugs_of_simple_titles():
    assert slugify("Hello World") == "hello-world"
    assert slugify("  --Hello,   World!--  ") == "hello-world"
    assert slugify("Top 10 Tips") == "top-10-tips"
    assert slugify("a---b") == "a-b"
    assert slugify("ALLCAPS") == "allcaps"


def test_a_slug_is_already_its_own_slug():
    slug = slugify("Déjà Vu: 10 Tips!")
    assert slugify(slug) == slug
