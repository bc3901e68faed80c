"""Writing a test per requirement: the framework, the context, syntax checks and retries,
and the template when the LLM is unavailable — through the real SDK and the stub."""

from __future__ import annotations

from pathlib import Path

from acceptance.generator import (
    SourceFile,
    framework_for,
    generate_test,
    generate_tests,
    public_names,
    source_files,
)
from acceptance.models import AcceptanceTest
from acceptance.runner import TestFile, run_tests
from conftest import engine_db
from execution.actions import import_masterplan
from execution.runtime.lifecycle import start_masterplan
from execution.tests.test_masterplan_format import MINIMAL

TINY = MINIMAL.replace(
    "Some prose.", '## Requirements\n### MUST\n- `a()` MUST return the text "a"\n'
)


def test_public_names_of_python_and_typescript_files():
    python = (
        "import os\n\nLIMIT = 3\n_hidden = 1\n\nclass Bus:\n    pass\n\ndef emit():\n    pass\n"
    )
    assert public_names("python", python) == ["LIMIT", "Bus", "emit"]
    typescript = (
        "export function on() {}\nexport const bus = 1;\nexport default class Emitter {}\n"
        "export type Handler = () => void;\nconst local = 2;\n"
    )
    assert public_names("typescript", typescript) == ["on", "bus", "Emitter", "Handler"]
    assert public_names("python", "def broken(:\n") == []


def test_the_framework_follows_the_code_the_requirement_names():
    files = [
        SourceFile("inventory/stock.py", "python", ["Inventory", "InsufficientStock"]),
        SourceFile("web/formatMoney.ts", "typescript", ["formatMoney"]),
        SourceFile("client/parse.js", "javascript", ["parseStockResponse"]),
    ]
    assert framework_for("`formatMoney(cents)` SHOULD format", files) == "vitest"
    assert framework_for("The client SHOULD retry once", files) == "vitest"
    assert framework_for("`Inventory.level(sku)` MUST equal", files) == "pytest"
    assert framework_for("Money MUST be exact", files) == "pytest"  # names none: mixed plan
    assert framework_for("Events MUST arrive", files[1:]) == "vitest"  # a TS/JS-only plan


def written_tiny(run_jobs):
    masterplan = import_masterplan(TINY)
    start_masterplan(masterplan.pk)
    run_jobs()
    return masterplan


@engine_db
def test_an_invalid_answer_is_retried_with_the_error_then_stored_invalid(stub_server, run_jobs):
    masterplan = written_tiny(run_jobs)
    stub_server.reset()
    stub_server.configure(
        atom_texts={"": ["Sure! Here is the test.", "```python\ndef test(:\n```"]}
    )
    assert generate_tests(masterplan.pk) == {"generated": 1, "invalid": 1}
    test = AcceptanceTest.objects.get(masterplan=masterplan)
    assert (test.status, test.attempts, test.generated_by) == ("invalid", 2, "llm")
    assert test.invalid_reason.startswith("attempt 1: the answer has no code block")
    assert " / attempt 2: tests/acceptance/test_r01.py does not parse: line 1" in (
        test.invalid_reason
    )
    assert test.code == "def test(:\n"  # the last answer that had code, shown on the page
    assert stub_server.stats.requests == 2


@engine_db
def test_a_retry_with_the_error_can_fix_the_answer(stub_server, run_jobs):
    masterplan = written_tiny(run_jobs)
    stub_server.reset()
    good = "```python\nfrom pkg.a import a\n\n\ndef test_a() -> None:\n    assert a() == 'a'\n```"
    stub_server.configure(atom_texts={"": ["```python\ndef test(:\n```", good]})
    assert generate_tests(masterplan.pk) == {"generated": 1, "llm": 1}
    test = AcceptanceTest.objects.get(masterplan=masterplan)
    assert (test.status, test.attempts, test.framework) == ("valid", 2, "pytest")
    assert "assert a() == 'a'" in test.code


@engine_db
def test_without_the_llm_a_template_test_checks_the_named_code_exists(stub_server, run_jobs):
    masterplan = written_tiny(run_jobs)
    stub_server.configure(failing_atoms={"": 400})
    assert generate_tests(masterplan.pk) == {"generated": 1, "template": 1}
    test = AcceptanceTest.objects.get(masterplan=masterplan)
    assert test.generated_by == "template" and "Template test of R1" in test.code
    assert "hasattr(importlib.import_module('pkg.a'), 'a')" in test.code
    # It really runs against the generated code, in the sandbox.
    report = run_tests(
        Path(masterplan.workspace_path),
        [TestFile(str(test.pk), test.file_path, test.code, test.framework)],
    )
    assert report.outcomes[str(test.pk)].status == "passed", report.outcomes


@engine_db
def test_a_generation_stopped_halfway_is_finished_by_the_next_without_paying_twice(
    stub_server, run_jobs
):
    from acceptance.pipeline import generate_once

    text = TINY.replace(
        '- `a()` MUST return the text "a"\n',
        '- `a()` MUST return the text "a"\n- `b()` MUST call `a()`\n',
    )
    masterplan = import_masterplan(text)
    start_masterplan(masterplan.pk)
    run_jobs()
    stub_server.reset()
    good = "```python\nfrom pkg.a import a\n\n\ndef test_a() -> None:\n    assert a() == 'a'\n```"
    stub_server.configure(atom_texts={"": [good]})
    first = masterplan.requirements.get(position=0)
    # R1 was written and saved before the job stopped.
    kept = generate_test(masterplan, first, source_files(masterplan))
    AcceptanceTest.objects.create(
        masterplan=masterplan,
        requirement=first,
        framework=kept.framework,
        file_path=kept.file_path,
        code=kept.code,
        generated_by=kept.generated_by,
    )
    stub_server.configure(atom_texts={"": [good.replace("test_a", "test_b")]})
    assert generate_once(masterplan.pk, replace=False) == {"generated": 1, "llm": 1}
    assert stub_server.stats.requests == 2  # R1 once, then only R2
    assert AcceptanceTest.objects.filter(masterplan=masterplan).count() == 2
