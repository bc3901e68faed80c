"""R2: `slugify` MUST transliterate accented Latin letters to their base letter
("Déjà Vu" becomes "deja-vu")."""

import pytest
from slugkit.slugify import slugify


def test_the_example_of_the_requirement():
    assert slugify("Déjà Vu") == "deja-vu"


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("àáâãäå", "aaaaaa"),  # grave, acute, circumflex, tilde, diaeresis, ring
        ("ÀÁÂÃÄÅ", "aaaaaa"),  # and their capitals, lowercased
        ("èéêë", "eeee"),
        ("ìíîï", "iiii"),
        ("òóôõö", "ooooo"),
        ("ùúûü", "uuuu"),
        ("ýÿ", "yy"),
        ("ñÑ", "nn"),
        ("çÇ", "cc"),  # cedilla
        ("šžčř", "szcr"),  # caron
        ("ąę", "ae"),  # ogonek
        ("őű", "ou"),  # double acute
        ("ș ț", "s-t"),  # comma below
    ],
)
def test_each_accented_letter_becomes_its_base_letter(text, slug):
    assert slugify(text) == slug


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Crème Brûlée", "creme-brulee"),
        ("São Paulo", "sao-paulo"),
        ("Zürich 5", "zurich-5"),
        ("Smörgåsbord", "smorgasbord"),
        ("naïve café", "naive-cafe"),
        ("Dvořák", "dvorak"),
    ],
)
def test_accents_are_folded_inside_words_without_splitting_them(text, slug):
    # A letter dropped instead of folded would split the word ("cr-me") or shorten it.
    assert slugify(text) == slug


def test_decomposed_input_folds_like_precomposed_input():
    precomposed = "Déjà Vu"
    decomposed = "De\u0301ja\u0300 Vu"  # e + combining acute, a + combining grave
    assert slugify(decomposed) == slugify(precomposed) == "deja-vu"
