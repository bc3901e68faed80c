from __future__ import annotations

import anthropic
import pytest
from anthropic.types import TextBlock
from django.conf import settings

from acceptance.requirements import parse_requirements
from execution.document.format import parse_masterplan
from execution.llm.offline import (
    AcceptancePrompt,
    OfflineProvider,
    OfflineResponder,
    acceptance_prompt_of,
    atom_prompt_of,
)
from execution.llm.prompts import extract_code
from execution.llm.stub_server import StubServer
from execution.llm.types import LLMError, LLMRequest
from execution.llm.validation import syntax_error


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
        atom = atom_prompt_of(prompt("gen", "9-lives", file, language))
        assert atom is not None
        code = responder.code_for(atom)
        assert syntax_error(language, file, code) is None
        assert "9-lives" in code


@pytest.mark.parametrize(
    ("masterplan", "file"),
    [("../..", "mge_site/settings.py"), ("slugkit", "../../../mge_site/settings.py")],
)
def test_a_prompt_cannot_read_outside_the_responses_folder(masterplan, file):
    responder = OfflineResponder(settings.MGE_OFFLINE_RESPONSES_DIR)
    atom = atom_prompt_of(prompt(masterplan, "x", file, "python"))
    assert atom is not None
    code = responder.code_for(atom)
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


# --- acceptance tests ------------------------------------------------------------------

# Which framework tests each requirement of the examples: the mixed plan tests its Python
# side with pytest and its JavaScript/TypeScript side with Vitest.
EXAMPLE_TEST_FRAMEWORKS = {
    "slugkit": ["pytest"] * 7,
    "typed-event-bus": ["vitest"] * 6,
    "inventory-service": ["pytest", "pytest", "pytest", "vitest", "pytest", "vitest", "vitest"],
}
STORED_SUFFIX = {"pytest": ".py", "vitest": ".test.ts"}


def acceptance_messages(
    masterplan: str, number: int, framework: str, rest: str = "\nRequirement: text\n"
) -> list[dict[str, str]]:
    test_file = (
        f"tests/acceptance/test_r{number:02d}.py"
        if framework == "pytest"
        else f"tests/acceptance/r{number:02d}.test.ts"
    )
    return [
        {
            "role": "user",
            "content": f'Acceptance test for requirement R{number} of masterplan "{masterplan}"\n'
            f"Framework: {framework}\nTest file: {test_file}\n{rest}",
        }
    ]


def test_the_acceptance_header_is_parsed():
    assert acceptance_prompt_of(acceptance_messages("slugkit", 3, "pytest")) == AcceptancePrompt(
        "slugkit", 3, "pytest", "tests/acceptance/test_r03.py"
    )
    blocks = [
        {"role": "user", "content": [{"type": "text", "text": m["content"]}]}
        for m in acceptance_messages('say "hi"', 12, "vitest")
    ]
    parsed = acceptance_prompt_of(blocks)
    assert parsed == AcceptancePrompt('say "hi"', 12, "vitest", "tests/acceptance/r12.test.ts")
    assert parsed.label == "R12"


def test_an_acceptance_prompt_is_not_an_atom_prompt_and_the_reverse():
    # A test request that quotes an atom header in its context still asks for a test.
    quoting = acceptance_messages(
        "slugkit", 1, "pytest", "\nMasterplan: slugkit\nAtom: a\nFile: a.py\nLanguage: python\n"
    )
    assert atom_prompt_of(quoting) is None
    assert (
        acceptance_prompt_of(prompt("slugkit", "slugify", "slugkit/slugify.py", "python")) is None
    )
    # Only a message that starts with the header asks for a test.
    buried = [
        {"role": "user", "content": "Intro\n" + acceptance_messages("s", 1, "pytest")[0]["content"]}
    ]
    assert acceptance_prompt_of(buried) is None


@pytest.mark.parametrize("masterplan", sorted(EXAMPLE_TEST_FRAMEWORKS))
def test_every_requirement_of_the_examples_has_its_stored_test(masterplan):
    responder = OfflineResponder(settings.MGE_OFFLINE_RESPONSES_DIR)
    document = (settings.BASE_DIR / "examples" / f"{masterplan}.md").read_text(encoding="utf-8")
    requirements = parse_requirements(parse_masterplan(document))
    frameworks = EXAMPLE_TEST_FRAMEWORKS[masterplan]
    assert len(requirements) == len(frameworks)
    for number, (requirement, framework) in enumerate(
        zip(requirements, frameworks, strict=True), 1
    ):
        text, usage = responder.answer("system", acceptance_messages(masterplan, number, framework))
        language = "python" if framework == "pytest" else "typescript"
        stored = (
            settings.MGE_OFFLINE_RESPONSES_DIR
            / masterplan
            / "_acceptance"
            / f"R{number}{STORED_SUFFIX[framework]}"
        ).read_text(encoding="utf-8")
        assert text == f"```{language}\n{stored.rstrip()}\n```\n"
        assert extract_code(text, language).rstrip() == stored.rstrip()
        assert syntax_error(language, f"R{number}{STORED_SUFFIX[framework]}", stored) is None
        assert usage.output_tokens == len(text) // 4
        # The stored test says which requirement it checks: a renumbering shows up here.
        first_line = stored.splitlines()[0]
        assert f"R{number}: {requirement.text[:30]}" in first_line, (number, first_line)
        other = "vitest" if framework == "pytest" else "pytest"
        with pytest.raises(LLMError):
            responder.answer("system", acceptance_messages(masterplan, number, other))


@pytest.mark.parametrize(
    ("masterplan", "number", "framework"),
    [
        ("slugkit", 3, "vitest"),  # slugkit is tested with pytest only
        ("slugkit", 8, "pytest"),  # there is no R8
        ("no-such-plan", 1, "pytest"),
        ("slugkit", 1, "jest"),
    ],
)
def test_a_missing_acceptance_test_raises_llm_error_naming_it(masterplan, number, framework):
    responder = OfflineResponder(settings.MGE_OFFLINE_RESPONSES_DIR)
    with pytest.raises(LLMError) as raised:
        responder.answer("system", acceptance_messages(masterplan, number, framework))
    assert str(raised.value) == (
        f"the offline provider has no acceptance test for R{number} of {masterplan} ({framework})"
    )
    assert raised.value.status_code == 400


@pytest.mark.parametrize("masterplan", ["../..", "../../mge_site", "/etc", "slugkit/../../.."])
def test_an_acceptance_prompt_cannot_read_outside_the_responses_folder(masterplan, tmp_path):
    # A file planted where an escaping name would lead must not be served.
    (tmp_path / "responses").mkdir()
    (tmp_path / "_acceptance").mkdir()
    (tmp_path / "_acceptance" / "R1.py").write_text("SECRET = 1\n")
    responder = OfflineResponder(tmp_path / "responses")
    with pytest.raises(LLMError):
        responder.answer("system", acceptance_messages(masterplan, 1, "pytest"))
    with pytest.raises(LLMError):
        OfflineResponder(settings.MGE_OFFLINE_RESPONSES_DIR).answer(
            "system", acceptance_messages(masterplan, 1, "pytest")
        )


def test_the_offline_provider_answers_a_stored_test_and_raises_for_a_missing_one():
    provider = OfflineProvider(OfflineResponder(settings.MGE_OFFLINE_RESPONSES_DIR), 0)
    request = LLMRequest(
        model="m",
        system="s",
        messages=acceptance_messages("typed-event-bus", 4, "vitest"),
        max_tokens=9,
        purpose="test-generation",
    )
    response = provider.complete(request)
    assert response.text.startswith("```typescript\n// R4: `bus.once(name, handler)`")
    missing = LLMRequest(
        model="m",
        system="s",
        messages=acceptance_messages("typed-event-bus", 4, "pytest"),
        max_tokens=9,
    )
    with pytest.raises(LLMError, match="no acceptance test for R4 of typed-event-bus"):
        provider.complete(missing)


@pytest.fixture
def stub():
    server = StubServer(OfflineResponder(settings.MGE_OFFLINE_RESPONSES_DIR)).start()
    yield server
    server.stop()


def sdk_client(stub: StubServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="test-key", base_url=stub.url, max_retries=2, timeout=10)


def test_the_stub_server_answers_a_stored_acceptance_test(stub):
    message = sdk_client(stub).messages.create(
        model="claude-haiku-4-5",
        max_tokens=64,
        messages=acceptance_messages("inventory-service", 1, "pytest"),  # type: ignore[arg-type]
    )
    assert isinstance(message.content[0], TextBlock)
    assert message.content[0].text.startswith('```python\n"""R1: Stock of an item MUST')
    assert stub.stats.requests == 1


def test_the_stub_server_refuses_a_missing_acceptance_test_with_a_400_not_retried(stub):
    with pytest.raises(anthropic.BadRequestError) as raised:
        sdk_client(stub).messages.create(
            model="claude-haiku-4-5",
            max_tokens=64,
            messages=acceptance_messages("slugkit", 9, "pytest"),  # type: ignore[arg-type]
        )
    assert raised.value.status_code == 400
    assert isinstance(raised.value.body, dict)
    assert raised.value.body["error"] == {
        "type": "invalid_request_error",
        "message": "the offline provider has no acceptance test for R9 of slugkit (pytest)",
    }
    assert stub.stats.requests == 1  # a 400 is final: the SDK did not retry it
