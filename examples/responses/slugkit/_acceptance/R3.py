"""R3: `slugify` MUST raise `ValueError` when the text has no letter or digit at all."""

import pytest
from slugkit.slugify import slugify


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "   \t\n  ",
        "-",
        "---",
        "!!!",
        "?!.,;:'\"()[]{}<>/\\|@#$%^&*_+=~`",
        "— – …",
        "🎉🎉",
        "\u0301\u0300",  # lone combining accents: marks, not letters
    ],
)
def test_text_without_any_letter_or_digit_raises_value_error(text):
    with pytest.raises(ValueError):
        slugify(text)


def test_a_custom_separator_does_not_avoid_the_error():
    with pytest.raises(ValueError):
        slugify("!!!", separator="_")


@pytest.mark.parametrize(
    ("text", "slug"),
    [("a", "a"), ("7", "7"), ("!!!a!!!", "a"), ("--0--", "0"), ("é", "e")],
)
def test_one_letter_or_digit_is_enough_for_a_slug(text, slug):
    # The error is for text with nothing to keep, not for short text.
    assert slugify(text) == slug
