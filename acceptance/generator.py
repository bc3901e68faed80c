"""An acceptance test per requirement, written by the LLM through the gateway.

The prompt gives the masterplan's overview and the code base — every file with its public
names — as the shared context of the plan's requests (the provider's prompt cache keeps it
once), then the requirement and the code of the files it names. The answer's code block is
syntax-checked (Python `ast`, tree-sitter for TS/JS) before it is stored; an invalid answer
is retried once with the error, then stored as invalid with the reason. When the LLM is
unavailable a template test takes its place: it checks only that the code the requirement
names exists, and says so.
"""

from __future__ import annotations

import contextvars
import logging
import queue
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction

from acceptance.instructions import SYSTEM_PROMPTS
from acceptance.models import AcceptanceTest, Requirement
from caching import batches
from execution import events
from execution.context.names import JS_LANGUAGES, public_names
from execution.llm.generation import generate_code, parses
from execution.llm.prompts import plan_context
from execution.llm.types import CallRefused, LLMRequest, run_here
from execution.models import Atom, MasterPlan

if TYPE_CHECKING:
    from execution.runtime.lifecycle import PlanId

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 2
_WORD = re.compile(r"[A-Za-z_$][\w$]*")


@dataclass(frozen=True)
class SourceFile:
    path: str
    language: str
    public_names: list[str]
    spec: str = ""
    """What the atom is to write, for a file not written yet (its names are unknown)."""
    code: str = ""
    """The file as written (empty for one not written yet)."""


@dataclass(frozen=True)
class GeneratedTest:
    framework: str
    file_path: str
    code: str
    status: str
    invalid_reason: str
    generated_by: str
    attempts: int


def source_files(masterplan: MasterPlan) -> list[SourceFile]:
    """Every file the plan writes: the public names of those written, the spec of the rest
    (tests are generated after the first wave, and must reach later waves' code too)."""
    return [
        SourceFile(
            atom.file_path,
            atom.language,
            public_names(atom.language, atom.generated_code),
            code=atom.generated_code,
        )
        if atom.status == Atom.Status.COMPLETED
        else SourceFile(atom.file_path, atom.language, [], atom.description.strip())
        for atom in masterplan.atoms.order_by("file_path")
    ]


def named_files(requirement_text: str, files: Sequence[SourceFile]) -> list[SourceFile]:
    """The files a requirement names (a public name, a folder or the file's name); all of
    them when it names none."""
    words = set(_WORD.findall(requirement_text))
    named = [
        file for file in files
        if words & set(file.public_names) or words & set(PurePosixPath(file.path).parts[:-1])
        or PurePosixPath(file.path).stem in words
    ]  # fmt: skip
    return named or list(files)


def framework_for(requirement_text: str, files: Sequence[SourceFile]) -> str:
    """Vitest when the code the requirement names is all TS/JS, else pytest; a requirement
    naming no file or public name follows the plan's files as a whole."""
    languages = {file.language for file in named_files(requirement_text, files)}
    return "vitest" if languages and languages <= JS_LANGUAGES else "pytest"


def test_file_path(number: int, framework: str) -> str:
    if framework == "vitest":
        return f"tests/acceptance/r{number:02d}.test.ts"
    return f"tests/acceptance/test_r{number:02d}.py"


def _import_hint(file: SourceFile) -> str:
    path = PurePosixPath(file.path)
    if file.language in JS_LANGUAGES:
        return f'import {{ … }} from "../../{path.with_suffix("")}"'
    module = ".".join(path.with_suffix("").parts)
    return f"from {module} import …"


def code_base(files: Sequence[SourceFile]) -> str:
    """The code base as every test of the plan sees it, the same for all of them: each
    file, its public names and how to import them. With the masterplan's overview it is
    the requests' shared context (what a file is to do is told where a test needs it)."""
    if not files:
        return "## The code base\n\n(no files generated yet)\n"
    listed = "\n".join(
        f"- `{file.path}` ({file.language}): "
        + ("not written yet" if file.spec else ", ".join(file.public_names) or "no public names")
        + f" — `{_import_hint(file)}`"
        for file in files
    )
    return f"## The code base\n\n{listed}\n"


def files_told(files: Sequence[SourceFile]) -> str:
    """The code of the files a requirement is about, or what one not written yet is to do."""
    told = "".join(
        f"\n### {file.path}\n\n"
        + (f"Not written yet; it is to: {file.spec}\n" if file.spec
           else f"```{file.language}\n{file.code.rstrip()}\n```\n")
        for file in files
    )  # fmt: skip
    return f"## The code it is about\n{told}" if told else ""


def test_prompt(
    masterplan: MasterPlan,
    requirement: Requirement,
    framework: str,
    file_path: str,
    files: Sequence[SourceFile],
    previous_errors: Sequence[str] = (),
) -> str:
    """The user message (after the code base, `code_base`). Its first three lines identify
    the request to offline answerers."""
    number = requirement.position + 1
    parts = [
        f'Acceptance test for requirement R{number} of masterplan "{masterplan.name}"\n'
        f"Framework: {framework}\nTest file: {file_path}\n",
        f"## The requirement ({requirement.priority.upper()}, line {requirement.source_line})"
        f"\n\n{requirement.text}\n",
        files_told(named_files(requirement.text, files)),
    ]
    if previous_errors:
        parts.append(
            "## Your previous answer was not valid\n\n"
            + "\n".join(f"- {error}" for error in previous_errors)
            + "\n\nAnswer again with the whole corrected file."
        )
    return "\n".join(parts)


def generate_test(
    masterplan: MasterPlan,
    requirement: Requirement,
    files: Sequence[SourceFile],
    *,
    fresh: bool = False,
    run_db: Callable[..., Any] = run_here,
) -> GeneratedTest:
    """The test of one requirement (`fresh`: really ask the model, as a regeneration must,
    not the response cache). Raises CallRefused when the budget stops the plan. Its
    database work (the ledger, the trace) is done through `run_db`."""
    framework = framework_for(requirement.text, files)
    file_path = test_file_path(requirement.position + 1, framework)
    language = "typescript" if framework == "vitest" else "python"

    # The same for every test of the plan; the code a requirement is about follows in its
    # own message, so a file rewritten changes the prompts of the tests of that file only.
    shared = plan_context(masterplan.description) + "\n" + code_base(files)

    def request_for(errors: Sequence[str]) -> LLMRequest:
        prompt = test_prompt(masterplan, requirement, framework, file_path, files, errors)
        return LLMRequest(
            model=masterplan.default_model or settings.MGE_MODEL_BY_COMPLEXITY["medium"],
            system=SYSTEM_PROMPTS[framework],
            shared_context=shared,
            messages=[{"role": "user", "content": prompt}],
            max_tokens=settings.MGE_LLM_MAX_TOKENS,
            purpose="test-generation",
            masterplan_id=str(masterplan.pk),
            template_version="acceptance-test/2",
            cache="no-cache" if fresh else "use",
            batch=batches.wanted("test-generation"),
        )

    scope = events.Scope(
        kind="requirement", masterplan_id=str(masterplan.pk), requirement_id=str(requirement.pk),
        attributes={"name": f"R{requirement.position + 1}", "file_path": file_path},
    )  # fmt: skip
    with events.observed(scope, run_db):
        events.emit("started", framework=framework)
        generated = _generate(
            request_for, requirement, framework, file_path, files, language, run_db
        )
        if generated.generated_by == "template":
            events.finish("requires_review", error="written from the template")
        elif generated.status == "valid":
            events.finish("completed")
        else:
            events.finish("failed", error=generated.invalid_reason)
        return generated


def _generate(
    request_for: Callable[[Sequence[str]], LLMRequest],
    requirement: Requirement,
    framework: str,
    file_path: str,
    files: Sequence[SourceFile],
    language: str,
    run_db: Callable[..., Any],
) -> GeneratedTest:
    outcome = generate_code(
        request_for, language=language, validate=parses(language, file_path),
        max_attempts=MAX_ATTEMPTS, run_db=run_db,
    )  # fmt: skip
    if isinstance(outcome.stopped_by, CallRefused):
        events.finish("released", error=str(outcome.stopped_by))
        raise outcome.stopped_by
    if outcome.stopped_by is not None:
        logger.warning("acceptance test of R%d from a template: %s", requirement.position + 1,
                       outcome.stopped_by)  # fmt: skip
        code = template_test(framework, requirement, files)
        return GeneratedTest(framework, file_path, code, "valid", "", "template", outcome.attempts)
    if outcome.code is not None:
        return GeneratedTest(framework, file_path, outcome.code, "valid", "", "llm",
                             outcome.attempts)  # fmt: skip
    # The reason of every attempt: the code kept may be an earlier attempt's.
    reason = " / ".join(f"attempt {n}: {error}" for n, error in enumerate(outcome.errors, 1))
    return GeneratedTest(framework, file_path, outcome.rejected_code, "invalid", reason, "llm",
                         MAX_ATTEMPTS)  # fmt: skip


def template_test(framework: str, requirement: Requirement, files: Sequence[SourceFile]) -> str:
    """A stand-in while the LLM is unavailable: the names the requirement mentions exist
    in the generated code (or, naming none, that every file loads)."""
    words = set(_WORD.findall(requirement.text))
    language_files = [
        file for file in files
        if (file.language in JS_LANGUAGES) == (framework == "vitest") and not file.spec
    ]  # fmt: skip
    wanted = [(file, name) for file in language_files for name in file.public_names
              if name in words]  # fmt: skip
    summary = requirement.text.replace("\n", " ")[:120]
    number = requirement.position + 1
    if framework == "vitest":
        imports = "\n".join(
            f'import * as m{index} from "../../{PurePosixPath(file.path).with_suffix("")}";'
            for index, file in enumerate(language_files)
        )
        index_of = {file.path: index for index, file in enumerate(language_files)}
        checks = [f"    expect(m{index_of[file.path]}.{name}).toBeDefined();" for file, name
                  in wanted] or [f"    expect(m{index}).toBeTruthy();" for index in
                                 range(len(language_files))]  # fmt: skip
        return (
            f"// Template test of R{number} (the LLM was unavailable): it checks only that "
            "the code it names exists.\n"
            f'import {{ describe, it, expect }} from "vitest";\n{imports}\n\n'
            f'describe("R{number}", () => {{\n  it({summary!r}, () => {{\n'
            + "\n".join(checks or ["    expect(true).toBe(false);"])
            + "\n  });\n});\n"
        )
    modules = [".".join(PurePosixPath(file.path).with_suffix("").parts) for file in language_files]
    module_of = {file.path: module for file, module in zip(language_files, modules, strict=True)}
    checks = [f"    assert hasattr(importlib.import_module({module_of[file.path]!r}), {name!r})"
              for file, name in wanted] or [
        f"    importlib.import_module({module!r})" for module in modules
    ] or ["    pytest.fail('no generated Python file to test')"]  # fmt: skip
    return (
        f'"""Template test of R{number} (the LLM was unavailable): it checks only that the '
        'code it names exists."""\n\nimport importlib\n\nimport pytest\n\n\n'
        f"def test_r{number:02d}_names_exist() -> None:\n"
        f"    # {summary}\n" + "\n".join(checks) + "\n"
    )


def generate_tests(masterplan_id: PlanId, *, only_missing: bool = False) -> dict[str, int]:
    """Write the test of every requirement (`only_missing`: of those without one), each
    saved as soon as it is written: a job stopped halfway (its time limit, its worker)
    keeps what it paid for, and the next one writes only the rest. A requirement's old
    test goes with its results: they tested other code."""
    masterplan = MasterPlan.objects.get(pk=masterplan_id)
    files = source_files(masterplan)
    requirements = masterplan.requirements.order_by("position")
    if only_missing:
        requirements = requirements.filter(acceptance_test__isnull=True)
    counts = {"generated": 0}
    # Regenerating every test (not only the missing ones) asks the model again.
    for requirement, test in _tests_of(masterplan, list(requirements), files, not only_missing):
        with transaction.atomic():
            AcceptanceTest.objects.filter(requirement=requirement).delete()
            AcceptanceTest.objects.create(
                masterplan=masterplan, requirement=requirement, framework=test.framework,
                file_path=test.file_path, code=test.code, status=test.status,
                invalid_reason=test.invalid_reason, generated_by=test.generated_by,
                attempts=test.attempts,
            )  # fmt: skip
        key = test.generated_by if test.status == "valid" else "invalid"
        counts["generated"] += 1
        counts[key] = counts.get(key, 0) + 1
    return counts


def _tests_of(
    masterplan: MasterPlan,
    requirements: Sequence[Requirement],
    files: Sequence[SourceFile],
    fresh: bool,
) -> Iterator[tuple[Requirement, GeneratedTest]]:
    """Each requirement's test, in requirement order. One after another, unless test
    generation goes through Message Batches: then MGE_LLM_BATCH_SIZE at a time, from
    threads, so their requests fill a batch instead of each waiting out its timeout."""
    if not batches.wanted("test-generation"):
        for requirement in requirements:
            yield requirement, generate_test(masterplan, requirement, files, fresh=fresh)
        return
    yield from _tests_concurrently(masterplan, requirements, files, fresh)


def _tests_concurrently(
    masterplan: MasterPlan,
    requirements: Sequence[Requirement],
    files: Sequence[SourceFile],
    fresh: bool,
) -> Iterator[tuple[Requirement, GeneratedTest]]:
    """The generating threads hand their database work to this thread, which does it on
    its own connection between the tests it yields (no connection per requirement, and
    the work stays inside a caller's transaction). Tests are yielded as they are done,
    in order; the first error (CallRefused: the budget stopped the plan) is raised once
    every thread has ended, after the tests that were paid for."""
    work: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()

    def run_db(function: Callable[..., Any], *args: Any) -> Any:
        done: Future[Any] = Future()

        def task() -> None:
            try:
                done.set_result(function(*args))
            except BaseException as error:
                done.set_exception(error)

        work.put(task)
        return done.result()

    def generate(requirement: Requirement) -> GeneratedTest:
        try:
            return generate_test(masterplan, requirement, files, fresh=fresh, run_db=run_db)
        finally:
            connection.close()  # a listener that queried directly opened one in this thread

    failure: BaseException | None = None
    with ThreadPoolExecutor(settings.MGE_LLM_BATCH_SIZE, "acceptance-test") as pool:
        futures = [
            pool.submit(contextvars.copy_context().run, generate, requirement)
            for requirement in requirements
        ]
        for future in futures:
            # Called once the future is done: this thread wakes to yield it.
            future.add_done_callback(lambda _: work.put(None))
        done = 0
        try:
            while done < len(futures):
                task = work.get()
                if task is not None:
                    task()
                while done < len(futures) and futures[done].done():
                    future, requirement = futures[done], requirements[done]
                    done += 1
                    error = future.exception()
                    if error is not None:
                        failure = failure or error
                    else:
                        yield requirement, future.result()
        finally:
            # Left early (the caller failed writing a test): the threads still wait on this
            # one for their database work, and the pool waits for them.
            while not all(future.done() for future in futures):
                task = work.get()
                if task is not None:
                    task()
    if failure is not None:
        raise failure
