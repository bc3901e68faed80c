"""The batch runner with real pytest and real Vitest runs in the sandbox: statuses, crashes,
collection errors, and an outcome for every test given."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import sandbox
from acceptance import runner
from acceptance.runner import NO_RESULT, TestFile, run_tests
from mge_site.testing import in_ci


def require(condition: bool, reason: str) -> None:
    """Skip where this machine lacks it; under CI a missing piece fails."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"required under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def isolated(settings) -> None:  # type: ignore[no-untyped-def]
    settings.MGE_SANDBOX = "auto"
    settings.MGE_ACCEPTANCE_TEST_TIMEOUT_SECONDS = 2
    try:
        sandbox.select_kind()
    except sandbox.SandboxUnavailable as unavailable:
        require(False, str(unavailable))


@pytest.fixture
def vitest() -> None:
    require(shutil.which("node") is not None, "Node.js is not installed")
    installed = (runner.JS_DIR / "node_modules" / "vitest").is_dir()
    require(installed, "Vitest is not installed (npm ci in acceptance/js)")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "workspace"
    (root / "slugkit").mkdir(parents=True)
    (root / "slugkit" / "__init__.py").write_text(
        "def slugify(text):\n    return '-'.join(text.lower().split())\n"
    )
    (root / "src").mkdir()
    (root / "src" / "slugify.ts").write_text(
        "export function slugify(text: string): string {\n"
        "  return text.toLowerCase().split(/\\s+/).filter(Boolean).join('-');\n}\n"
    )
    return root


def pytest_file(key: str, code: str) -> TestFile:
    return TestFile(key, f"tests/acceptance/test_{key}.py", code, "pytest")


def vitest_file(key: str, code: str, suffix: str = "test.ts") -> TestFile:
    header = 'import { describe, it, expect } from "vitest";\n'
    return TestFile(key, f"tests/acceptance/{key}.{suffix}", header + code, "vitest")


def test_pytest_statuses_in_one_session(workspace: Path) -> None:
    tests = [
        pytest_file(
            "passes",
            "from slugkit import slugify\n\n"
            "def test_slug():\n    assert slugify('Hello World') == 'hello-world'\n",
        ),
        pytest_file(
            "fails",
            "from slugkit import slugify\n\n"
            "def test_slug():\n    assert slugify('Hello World') == 'hello_world'\n",
        ),
        pytest_file("syntax", "def test_broken(:\n    pass\n"),
        pytest_file("imports", "from slugkit import unslugify\n\ndef test_x():\n    pass\n"),
        pytest_file(
            "skips",
            "import pytest\n\n@pytest.mark.skip(reason='not yet')\ndef test_x():\n    pass\n",
        ),
        pytest_file("sleeps", "import time\n\ndef test_slow():\n    time.sleep(60)\n"),
        pytest_file("empty", "HELPER = 1\n"),
        pytest_file(
            "fixture",
            "import pytest\n\n@pytest.fixture\ndef broken():\n    raise RuntimeError('no db')\n\n"
            "def test_x(broken):\n    pass\n",
        ),
    ]
    report = run_tests(workspace, tests)
    statuses = {key: outcome.status for key, outcome in report.outcomes.items()}
    assert statuses == {
        "passes": "passed",
        "fails": "failed",
        "syntax": "error",
        "imports": "error",
        "skips": "skipped",
        "sleeps": "timeout",
        "empty": "error",
        "fixture": "error",
    }
    outcomes = report.outcomes
    assert "hello_world" in outcomes["fails"].message
    assert "assert slugify('Hello World') == 'hello_world'" in outcomes["fails"].trace
    assert "SyntaxError" in outcomes["syntax"].message
    assert "ImportError" in outcomes["imports"].message
    assert outcomes["skips"].message == "not yet"
    assert "Timeout (>2.0s)" in outcomes["sleeps"].message
    assert outcomes["sleeps"].duration_s >= 2
    assert outcomes["empty"].message.startswith("nothing collected")
    assert "no db" in outcomes["fixture"].message
    assert report.isolation.startswith(("bwrap", "unshare"))


def test_a_files_outcome_is_its_worst_test(workspace: Path) -> None:
    report = run_tests(
        workspace,
        [
            pytest_file(
                "mixed",
                "def test_one():\n    pass\n\n"
                "def test_two():\n    assert 1 + 1 == 3\n\n"
                "def test_three():\n    pass\n",
            ),
            pytest_file(
                "all_skipped",
                "import pytest\n\n@pytest.mark.skip(reason='a')\ndef test_a():\n    pass\n\n"
                "@pytest.mark.skip(reason='b')\ndef test_b():\n    pass\n",
            ),
            pytest_file(
                "passed_and_skipped",
                "import pytest\n\ndef test_a():\n    pass\n\n"
                "@pytest.mark.skip(reason='b')\ndef test_b():\n    pass\n",
            ),
        ],
    )
    mixed = report.outcomes["mixed"]
    assert mixed.status == "failed"
    assert mixed.message.startswith("test_two: assert (1 + 1) == 3")
    assert report.outcomes["all_skipped"].status == "skipped"
    assert report.outcomes["passed_and_skipped"].status == "passed"


def test_every_pytest_file_runs_in_one_pytest_process(workspace: Path) -> None:
    code = "import os, pytest\n\ndef test_pid():\n    pytest.skip(f'pid {os.getpid()}')\n"
    report = run_tests(workspace, [pytest_file(f"file_{n}", code) for n in range(5)])
    messages = {outcome.message for outcome in report.outcomes.values()}
    assert len(messages) == 1 and messages.pop().startswith("pid ")
    assert report.log.count("--- pytest:") == 1


def test_tests_left_without_result_by_a_crash_are_errors(workspace: Path) -> None:
    report = run_tests(
        workspace,
        [
            pytest_file("before", "def test_fine():\n    pass\n"),
            pytest_file(
                "crashes",
                "import os\n\ndef test_fine():\n    pass\n\n"
                "def test_crash():\n    os._exit(3)\n\n"
                "def test_never():\n    pass\n",
            ),
            pytest_file("after", "def test_never_run():\n    pass\n"),
        ],
    )
    outcomes = report.outcomes
    assert outcomes["before"].status == "passed"
    assert outcomes["crashes"].status == "error"
    assert outcomes["crashes"].message == f"test_crash: {NO_RESULT}"
    assert "exit status 3" in outcomes["crashes"].trace
    assert (outcomes["after"].status, outcomes["after"].message) == ("error", NO_RESULT)


def test_every_key_gets_an_outcome(workspace: Path) -> None:
    (workspace / "outside").symlink_to("/etc")
    tests = [
        pytest_file("fine", "def test_x():\n    pass\n"),
        TestFile("escapes", "../test_escape.py", "def test_x():\n    pass\n", "pytest"),
        TestFile("absolute", "/tmp/test_abs.py", "def test_x():\n    pass\n", "pytest"),
        TestFile("symlinked", "outside/test_x.py", "def test_x():\n    pass\n", "pytest"),
        TestFile("ruby", "spec/x_spec.rb", "it 'works'\n", "rspec"),
        TestFile("twin", "tests/acceptance/test_fine.py", "def test_x():\n    pass\n", "pytest"),
    ]
    report = run_tests(workspace, tests)
    assert set(report.outcomes) == {test.key for test in tests}
    assert report.outcomes["fine"].status == "passed"
    for key in ("escapes", "absolute", "symlinked", "ruby", "twin"):
        assert report.outcomes[key].status == "error", key
    assert "rspec" in report.outcomes["ruby"].message
    assert "outside the workspace" in report.outcomes["symlinked"].message
    assert "fine" in report.outcomes["twin"].message


@pytest.mark.usefixtures("vitest")
def test_vitest_statuses_in_one_run_beside_pytest(workspace: Path) -> None:
    """Under the default limits: Node reserves far more address space than Python."""
    tests = [
        vitest_file(
            "passes",
            'import { slugify } from "../../src/slugify";\n'
            'describe("slugify", () => {\n'
            '  it("joins words", () => { expect(slugify("Hello World")).toBe("hello-world"); });\n'
            '  it("lowercases", () => { expect(slugify("ABC")).toBe("abc"); });\n});\n',
        ),
        vitest_file(
            "fails",
            'import { slugify } from "../../src/slugify";\n'
            'it("uses underscores", () => { expect(slugify("a b")).toBe("a_b"); });\n',
        ),
        vitest_file("skips", 'it.skip("later", () => {});\nit.todo("some day");\n'),
        vitest_file(
            "sleeps",
            'it("waits", async () => { await new Promise((r) => setTimeout(r, 60000)); });\n',
        ),
        vitest_file("syntax", 'it("x", () => { const a: number = ; });\n'),
        vitest_file("plain_js", 'it("adds", () => { expect(1 + 1).toBe(2); });\n', "test.js"),
        vitest_file("named_freely", 'it("runs", () => { expect(true).toBe(true); });\n', "ts"),
        vitest_file("empty", "export const helper = 1;\n"),
        pytest_file("python", "def test_x():\n    pass\n"),
    ]
    report = run_tests(workspace, tests)
    statuses = {key: outcome.status for key, outcome in report.outcomes.items()}
    assert statuses == {
        "passes": "passed",
        "fails": "failed",
        "skips": "skipped",
        "sleeps": "timeout",
        "syntax": "error",
        "plain_js": "passed",
        "named_freely": "passed",
        "empty": "error",
        "python": "passed",
    }, report.log
    outcomes = report.outcomes
    assert "expected 'a-b' to be 'a_b'" in outcomes["fails"].message
    assert "Test timed out in 2000ms" in outcomes["sleeps"].message
    assert 'Unexpected ";"' in outcomes["syntax"].message
    assert "No test suite found" in outcomes["empty"].message
    assert outcomes["skips"].message == "later: skip"


@pytest.mark.usefixtures("vitest")
def test_vitest_reports_an_exit_and_a_killed_worker(workspace: Path) -> None:
    """Vitest turns process.exit() into a failure; a worker killed outright ends its whole
    run, and every test without a result is an error that says so."""
    exits = vitest_file("exits", 'it("exits", () => { process.exit(3); });\n')
    report = run_tests(workspace, [exits])
    assert report.outcomes["exits"].status == "failed"
    assert "process.exit unexpectedly called" in report.outcomes["exits"].message

    report = run_tests(
        workspace,
        [
            vitest_file(
                "killed",
                'it("fine", () => {});\n'
                'it("kills its worker", () => { process.kill(process.pid, "SIGKILL"); });\n',
            ),
            vitest_file("other", 'it("fine", () => {});\n'),
        ],
    )
    for key in ("killed", "other"):
        assert report.outcomes[key].status == "error", key
        assert NO_RESULT in report.outcomes[key].message, key
