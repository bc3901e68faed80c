"""Batched acceptance runs against one pytest process per test, both in the sandbox.

200 generated pytest files, each with real assertions on a small generated module of a
temporary workspace, run twice in one run:

(a) per test — the seed's way: one sandboxed pytest process per test file
    (`run_tests` with that one file, so each pays the sandbox, the copy and pytest's start);
(b) batched — `run_tests` with all 200: one sandbox, one pytest session.

Needs no database or Redis. Prints both times and the speed-up.

    python benchmarks/acceptance.py        (make bench runs it)
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from _services import setup_django

if TYPE_CHECKING:
    from acceptance.runner import TestFile

TESTS = 200
MODULE = """\
def price_with_tax(net: float, rate: float) -> float:
    return round(net * (1 + rate), 2)


def slugify(text: str) -> str:
    return "-".join(text.lower().split())
"""


def generated_tests() -> list[TestFile]:
    from acceptance.runner import TestFile

    return [
        TestFile(
            key=f"req-{index:03d}",
            path=f"tests/acceptance/test_req_{index:03d}.py",
            code=(
                "from shop.pricing import price_with_tax, slugify\n\n\n"
                f"def test_req_{index:03d}_price():\n"
                f"    assert price_with_tax({index}, 0.2) == round({index} * 1.2, 2)\n\n\n"
                f"def test_req_{index:03d}_slug():\n"
                f"    assert slugify('Item {index} Blue') == 'item-{index}-blue'\n"
            ),
            framework="pytest",
        )
        for index in range(TESTS)
    ]


def main() -> None:
    setup_django({"MGE_LOG_LEVEL": "WARNING"})
    from acceptance.runner import run_tests

    tests = generated_tests()
    with tempfile.TemporaryDirectory(prefix="mge-bench-acceptance-") as directory:
        workspace = Path(directory)
        (workspace / "shop").mkdir()
        (workspace / "shop" / "__init__.py").write_text("")
        (workspace / "shop" / "pricing.py").write_text(MODULE)

        started = time.monotonic()
        one_by_one = [run_tests(workspace, [test]) for test in tests]
        per_test_s = time.monotonic() - started

        started = time.monotonic()
        batched = run_tests(workspace, tests)
        batched_s = time.monotonic() - started

    statuses = {
        outcome.status for report in [*one_by_one, batched] for outcome in report.outcomes.values()
    }
    if statuses != {"passed"}:
        raise SystemExit(f"benchmark tests did not all pass: {sorted(statuses)}")
    print(f"isolation: {batched.isolation}")
    print(f"per_test_subprocess_s: {per_test_s:.2f}")
    print(f"batched_s: {batched_s:.2f}")
    print(f"batch_speedup: {per_test_s / batched_s:.1f}")


if __name__ == "__main__":
    main()
