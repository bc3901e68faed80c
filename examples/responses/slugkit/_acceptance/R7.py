"""R7: `UniqueSlugger` SHOULD accept a set of slugs that are already taken."""

from slugkit.unique import UniqueSlugger


def test_a_taken_slug_is_never_handed_out():
    slugger = UniqueSlugger({"title"})
    assert slugger.slug("Title") == "title-2"
    assert slugger.slug("Title") == "title-3"


def test_taken_numbered_slugs_are_skipped():
    slugger = UniqueSlugger({"title", "title-2", "title-4"})
    assert [slugger.slug("Title") for _ in range(3)] == ["title-3", "title-5", "title-6"]


def test_taken_slugs_of_other_titles_do_not_matter():
    slugger = UniqueSlugger({"other", "title-2"})
    assert slugger.slug("Title") == "title"
    assert slugger.slug("Title") == "title-3"
    assert slugger.slug("Other") == "other-2"


def test_any_iterable_of_slugs_is_accepted():
    for taken in (["title"], ("title",), frozenset({"title"}), (s for s in ["title"])):
        assert UniqueSlugger(taken).slug("Title") == "title-2"


def test_no_taken_slugs_by_default_or_when_empty():
    assert UniqueSlugger().slug("Title") == "title"
    assert UniqueSlugger(set()).slug("Title") == "title"
