from __future__ import annotations

import pytest
from django.conf import settings

from execution.llm.offline import OfflineProvider, OfflineResponder, atom_prompt_of
from execution.llm.types import LLMRequest
from execution.validation import syntax_error


def prompt(masterplan: str, atom: str, file: str, language: str) -> list[dict[str, str]]:
    return [
        {
            "role": "user",
            "content": f"Masterplan: {masterplan}\nAtom: {atom}\nFile: {file}\n"
            f"Language: {language}\n\nspec",
        }
    ]


def test_example_atoms_get_their_stored_code():
    responder = OfflineResponder(settings.MGE_OFFLINE_RESPONSES_DIR)
    text, usage = responder.answer(
        "system", prompt("slugkit", "slugify", "slugkit/slugify.py", "python")
    )
    stored = (settings.MGE_OFFLINE_RESPONSES_DIR / "slugkit/slugkit/slugify.py").read_text()
    assert text == f"```python\n{stored.rstrip()}\n```\n"
    assert usage.output_tokens == len(text) // 4


def test_any_other_atom_gets_a_valid_module_in_its_language():
    responder = OfflineResponder(settings.MGE_OFFLINE_RESPONSES_DIR)
    for language, file in [("python", "x/a.py"), ("typescript", "x/a.ts"), ("javascript", "a.js")]:
        code = responder.code_for(atom_prompt_of(prompt("gen", "9-lives", file, language)))
        assert syntax_error(language, file, code) is None
        assert "9-lives" in code


@pytest.mark.parametrize(
    ("masterplan", "file"),
    [("../..", "mge_site/settings.py"), ("slugkit", "../../../mge_site/settings.py")],
)
def test_a_prompt_cannot_read_outside_the_responses_folder(masterplan, file):
    responder = OfflineResponder(settings.MGE_OFFLINE_RESPONSES_DIR)
    code = responder.code_for(atom_prompt_of(prompt(masterplan, "x", file, "python")))
    assert "SECRET_KEY" not in code


def test_a_prompt_without_the_header_is_answered_without_code():
    text, _ = OfflineResponder(settings.MGE_OFFLINE_RESPONSES_DIR).answer(
        "system", [{"role": "user", "content": "hello"}]
    )
    assert "```" not in text


def test_the_offline_provider_waits_its_latency():
    provider = OfflineProvider(OfflineResponder(settings.MGE_OFFLINE_RESPONSES_DIR), 0.05)
    response = provider.complete(
        LLMRequest(model="m", system="s", messages=prompt("a", "b", "c.py", "python"), max_tokens=9)
    )
    assert response.latency_seconds >= 0.05
    assert response.model == "m"
