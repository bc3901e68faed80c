"""R4: `UniqueSlugger.slug(text)` MUST return "title", then "title-2", "title-3" … for
repeated titles."""

from slugkit.unique import UniqueSlugger


def test_repeated_titles_get_increasing_suffixes_from_2():
    slugger = UniqueSlugger()
    assert [slugger.slug("Title") for _ in range(5)] == [
        "title",
        "title-2",
        "title-3",
        "title-4",
        "title-5",
    ]


def test_titles_with_the_same_slug_count_as_repeated():
    slugger = UniqueSlugger()
    assert slugger.slug("Déjà Vu") == "deja-vu"
    assert slugger.slug("deja vu!") == "deja-vu-2"
    assert slugger.slug("  DEJA---VU  ") == "deja-vu-3"


def test_each_title_has_its_own_sequence():
    slugger = UniqueSlugger()
    got = [slugger.slug(t) for t in ["Alpha", "Beta", "Alpha", "Beta", "Alpha", "Gamma"]]
    assert got == ["alpha", "beta", "alpha-2", "beta-2", "alpha-3", "gamma"]


def test_the_sequence_continues_past_nine():
    slugger = UniqueSlugger()
    slugs = [slugger.slug("Post") for _ in range(12)]
    assert slugs[0] == "post"
    assert slugs[1:] == [f"post-{n}" for n in range(2, 13)]


def test_every_slug_handed_out_is_unique():
    # A title that looks like a numbered slug must not make the sequence hand out a
    # slug twice: the suffix skips what was already given.
    slugger = UniqueSlugger()
    given = [slugger.slug(t) for t in ["Title 2", "Title", "Title", "Title", "Title 2"]]
    assert len(set(given)) == len(given)
    assert given[:2] == ["title-2", "title"]
    assert given[2] == "title-3"


def test_two_sluggers_do_not_share_their_history():
    first, second = UniqueSlugger(), UniqueSlugger()
    assert first.slug("Title") == "title"
    assert first.slug("Title") == "title-2"
    assert second.slug("Title") == "title"
