"""R5: `truncate_slug(slug, max_length)` MUST never cut a slug in the middle of a word
unless the first word alone is longer than `max_length`."""

import pytest
from slugkit.truncate import truncate_slug

SLUG = "deja-vu-10-tips-for-travellers"


@pytest.mark.parametrize(
    ("max_length", "expected"),
    [
        (100, SLUG),
        (len(SLUG), SLUG),
        (len(SLUG) - 1, "deja-vu-10-tips-for"),
        (19, "deja-vu-10-tips-for"),
        (18, "deja-vu-10-tips"),
        (15, "deja-vu-10-tips"),
        (14, "deja-vu-10"),
        (10, "deja-vu-10"),
        (9, "deja-vu"),
        (7, "deja-vu"),
        (6, "deja"),
        (4, "deja"),
    ],
)
def test_whole_words_are_dropped_from_the_end_until_it_fits(max_length, expected):
    assert truncate_slug(SLUG, max_length) == expected


def test_no_result_ever_ends_inside_a_word_when_the_first_word_fits():
    words = SLUG.split("-")
    for max_length in range(len(words[0]), len(SLUG) + 3):
        result = truncate_slug(SLUG, max_length)
        assert len(result) <= max_length
        kept = result.split("-")
        # Only whole words, the leading ones, in order.
        assert kept == words[: len(kept)], (max_length, result)
        assert not result.endswith("-")


@pytest.mark.parametrize(
    ("slug", "max_length", "expected"),
    [
        ("supercalifragilistic-words", 5, "super"),
        ("deja-vu", 3, "dej"),
        ("deja-vu", 1, "d"),
        ("internationalization", 10, "internatio"),
    ],
)
def test_only_a_first_word_longer_than_max_length_is_cut(slug, max_length, expected):
    result = truncate_slug(slug, max_length)
    assert result == expected
    assert len(result) <= max_length


def test_a_slug_that_fits_is_returned_unchanged():
    assert truncate_slug("a-b-c", 5) == "a-b-c"
    assert truncate_slug("single", 6) == "single"
