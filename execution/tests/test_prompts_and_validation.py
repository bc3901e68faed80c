from __future__ import annotations

import pytest

from execution.llm.offline import atom_prompt_of
from execution.llm.prompts import ContextFile, NoCodeBlock, atom_prompt, extract_code
from execution.llm.validation import syntax_error


def test_the_prompt_carries_header_spec_context_and_earlier_errors():
    text = atom_prompt(
        masterplan_name="plan",
        atom_name="b",
        file_path="pkg/b.py",
        language="python",
        spec="Define b().",
        context=[ContextFile("pkg/a.py", "python", "def a(): ...")],
        previous_errors=["the answer has no code block"],
    )
    header = atom_prompt_of([{"role": "user", "content": text}])
    assert header is not None
    assert (header.masterplan, header.atom, header.file, header.language) == (
        "plan", "b", "pkg/b.py", "python",
    )  # fmt: skip
    assert "### pkg/a.py\n\n```python\ndef a(): ...\n```" in text
    assert "- attempt 1: the answer has no code block" in text


def test_extract_prefers_the_block_in_the_atoms_language():
    answer = "Some notes\n```bash\nls\n```\nand\n```ts\nexport const x = 1;\n```"
    assert extract_code(answer, "typescript") == "export const x = 1;\n"
    assert extract_code("```\nplain\n```", "python") == "plain\n"
    with pytest.raises(NoCodeBlock, match="one ```python block"):
        extract_code("no code at all", "python")


@pytest.mark.parametrize(
    ("language", "path", "code", "problem"),
    [
        ("python", "a.py", "def f(:\n  pass\n", "line 1"),
        ("typescript", "a.ts", "export function f(a: number { return a }", "line 1: missing ')'"),
        ("typescript", "a.ts", "const x = 1;\nconst = 2;\n", "line 2"),
        ("javascript", "a.js", "import { x from './x.js';", "line 1"),
    ],
)
def test_l1_finds_the_first_syntax_error_and_its_line(language, path, code, problem):
    error = syntax_error(language, path, code)
    assert error is not None and error.startswith(problem)


@pytest.mark.parametrize(
    ("language", "path", "code"),
    [
        ("python", "a.py", "def f(x: int) -> int:\n    return x\n"),
        ("typescript", "a.ts", "export type A<T> = { a: T };\nexport const f = <T,>(x: T) => x;\n"),
        ("typescript", "a.tsx", "export const C = () => <div>hi</div>;\n"),
        ("javascript", "a.js", "export default async function () { await 1; }\n"),
    ],
)
def test_valid_code_passes_l1(language, path, code):
    assert syntax_error(language, path, code) is None
