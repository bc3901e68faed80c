"""R6: `slugify` SHOULD accept a custom separator (for example "_")."""

import pytest
from slugkit.slugify import slugify


def test_an_underscore_separator_joins_the_words():
    assert slugify("Déjà Vu: 10 Tips!", separator="_") == "deja_vu_10_tips"
    # Positionally too, as the signature allows.
    assert slugify("Hello World", "_") == "hello_world"


@pytest.mark.parametrize("separator", ["_", ".", "~", "+"])
def test_the_separator_replaces_the_hyphen_everywhere(separator):
    slug = slugify("  Crème -- Brûlée,  the Recipe!  ", separator=separator)
    assert slug == separator.join(["creme", "brulee", "the", "recipe"])
    assert "-" not in slug
    assert not slug.startswith(separator) and not slug.endswith(separator)
    assert separator * 2 not in slug


def test_hyphens_in_the_text_become_the_separator():
    assert slugify("well-known-title", separator="_") == "well_known_title"


def test_the_default_separator_stays_the_hyphen():
    assert slugify("Hello World") == "hello-world"


def test_one_word_has_no_separator():
    assert slugify("Hello", separator="_") == "hello"
