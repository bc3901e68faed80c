"""Each level on small real workspaces: a planted fault is found at its level, and valid
code that is easy to misread (barrels, TYPE_CHECKING, defaults, *args) raises nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from acceptance.models import AcceptanceTest, Requirement
from precision import build
from precision.models import ValidationCheck, ValidationRun
from precision.validation import validate

pytestmark = pytest.mark.django_db


def failing(run: ValidationRun) -> set[tuple[int, str, str]]:
    return {(check.level, check.category, check.file) for check in run.checks.filter(passed=False)}


def the_failure(run: ValidationRun, level: int, category: str, file: str) -> ValidationCheck:
    return run.checks.get(level=level, category=category, file=file, passed=False)


def test_an_undefined_name_is_a_critical_l1_finding_on_its_atom(plan_with_files):
    code = """
        def total():
            return subtotal + 1
    """
    masterplan = plan_with_files({"M": {"T": {"calc.py": code}}})
    run = validate(masterplan, (1,))
    check = the_failure(run, 1, "undefined-name", "calc.py")
    assert check.severity == "CRITICAL" and check.line == 3
    assert "F821" in check.message and "subtotal" in check.message
    assert check.atom == masterplan.atoms.get()
    assert failing(run) == {(1, "undefined-name", "calc.py")}


def test_eval_and_shell_commands_are_forbidden_constructs(plan_with_files):
    code = """
        import os
        import subprocess as sp

        def run(text):
            os.system(text)
            sp.run(text, shell=True)
            return eval(text)
    """
    run = validate(plan_with_files({"M": {"T": {"tool.py": code}}}), (1,))
    check = the_failure(run, 1, "forbidden-construct", "tool.py")
    assert check.severity == "HIGH"
    assert [finding["line"] for finding in check.findings] == [6, 7, 8]
    assert failing(run) == {(1, "forbidden-construct", "tool.py")}


def test_a_file_that_is_not_utf8_is_a_critical_finding_not_a_crash(plan_with_files):
    masterplan = plan_with_files({"M": {"T": {"data.py": "x = 1\n"}}})
    (Path(masterplan.workspace_path) / "data.py").write_bytes(b"x = '\xff\xfe'\n")
    run = validate(masterplan, (1, 2, 3))
    check = the_failure(run, 1, "syntax", "data.py")
    assert check.severity == "CRITICAL" and "not UTF-8" in check.message


def test_an_import_of_a_module_no_atom_writes_fails_l2(plan_with_files):
    cart = """
        from shop.pricing import price

        def total(items):
            return sum(map(price, items))
    """
    masterplan = plan_with_files({"M": {"T": {"shop/__init__.py": "", "shop/cart.py": cart}}})
    run = validate(masterplan, (1, 2, 3))
    check = the_failure(run, 2, "imports", "shop/cart.py")
    assert check.scope == "task" and check.severity == "CRITICAL" and check.line == 2
    assert "no module shop.pricing" in check.message
    assert failing(run) == {(2, "imports", "shop/cart.py")}


def test_a_name_another_task_does_not_define_fails_l3_interfaces(plan_with_files):
    service = """
        from inv.models import Item, Stock

        ITEMS = [Item, Stock]
    """
    masterplan = plan_with_files(
        {"M": {
            "Models": {"inv/__init__.py": "", "inv/models.py": "class Item:\n    pass\n"},
            "Service": {"inv/service.py": service},
        }}
    )  # fmt: skip
    run = validate(masterplan, (1, 2, 3))
    check = the_failure(run, 3, "interfaces", "inv/service.py")
    assert check.scope == "milestone" and "does not define 'Stock'" in check.message
    assert failing(run) == {(3, "interfaces", "inv/service.py")}


def test_a_cross_task_call_with_the_wrong_arguments_fails_l3_contracts(plan_with_files):
    lib = """
        def area(width, height, *, unit="m"):
            return width * height
    """
    app = """
        import lib
        from lib import area

        A = area(1)
        B = lib.area(1, 2, 3)
        C = area(1, 2, colour="red")
    """
    masterplan = plan_with_files({"M": {"Lib": {"lib.py": lib}, "App": {"app.py": app}}})
    run = validate(masterplan, (1, 2, 3))
    check = the_failure(run, 3, "contracts", "app.py")
    messages = [finding["message"] for finding in check.findings]
    assert any("missing required argument: 'height'" in m for m in messages)
    assert any("takes 2 positional arguments but 3 were given" in m for m in messages)
    assert any("unexpected keyword argument 'colour'" in m for m in messages)
    assert failing(run) == {(3, "contracts", "app.py")}


def test_a_module_level_import_cycle_across_milestones_fails_l3_integration(plan_with_files):
    orders = """
        from billing import invoice

        def order():
            return invoice()
    """
    billing = """
        from orders import order

        def invoice():
            return order
    """
    masterplan = plan_with_files(
        {"Orders": {"T1": {"orders.py": orders}}, "Billing": {"T2": {"billing.py": billing}}}
    )
    run = validate(masterplan, (1, 2, 3))
    cycles = run.checks.filter(level=3, category="integration", passed=False)
    assert cycles.count() == 2  # one per milestone the cycle runs through
    assert all("billing.py → orders.py → billing.py" in check.message for check in cycles)
    assert {check.scope for check in cycles} == {"milestone"}


def test_typescript_names_and_paths_are_checked_at_l2_and_types_at_l4(plan_with_files):
    money = """
        export function cents(amount: number): number {
          return Math.round(amount * 100);
        }
    """
    cart = """
        import { cents, euros } from './money';
        import { tax } from './taxes';

        export const total: string = cents(2);
    """
    masterplan = plan_with_files({"Web": {"UI": {"web/money.ts": money, "web/cart.ts": cart}}})
    run = validate(masterplan)
    names = the_failure(run, 2, "contracts", "web/cart.ts")
    assert "does not export 'euros'" in names.message and names.severity == "CRITICAL"
    path = the_failure(run, 2, "imports", "web/cart.ts")
    assert "'./taxes' names no file of the workspace" in path.message
    types = the_failure(run, 4, "build", "web/cart.ts")
    codes = {finding["code"] for finding in types.findings}
    assert {"TS2322", "TS2305", "TS2307"} <= codes  # string := number; euros; ./taxes
    assert run.isolation.startswith("bwrap") and run.tools["typescript"]


def test_an_acceptance_test_that_does_not_collect_fails_l4(plan_with_files):
    masterplan = plan_with_files({"M": {"T": {"calc.py": "def add(a, b):\n    return a + b\n"}}})
    tests = [
        "from calc import add\n\ndef test_add():\n    assert add(1, 2) == 3\n",
        "from calc import multiply\n\ndef test_multiply():\n    assert multiply(2, 3) == 6\n",
    ]
    for position, code in enumerate(tests):
        requirement = Requirement.objects.create(
            masterplan=masterplan, text=f"R{position}", priority="must", source_line=1,
            position=position,
        )  # fmt: skip
        AcceptanceTest.objects.create(
            masterplan=masterplan, requirement=requirement, framework="pytest",
            file_path=f"tests/acceptance/test_r{position}.py", code=code, generated_by="llm",
        )  # fmt: skip
    run = validate(masterplan)
    check = the_failure(run, 4, "build", "tests/acceptance/test_r1.py")
    assert "does not collect" in check.message and "multiply" in check.message
    assert failing(run) == {(4, "build", "tests/acceptance/test_r1.py")}
    assert run.checks.get(level=4, file="tests/acceptance/test_r0.py").passed


CORE_INIT = """
    from core.models import Item as Item
    from core.util import dump

    __all__ = ["Item", "dump"]
"""
CORE_MODELS = """
    from __future__ import annotations

    from typing import TYPE_CHECKING

    if TYPE_CHECKING:
        from core.service import Service


    class Item:
        def __init__(self, name, *tags, owner=None):
            self.name = name

        def serve(self, service: Service) -> None:
            pass
"""
CORE_UTIL = """
    import json

    __all__ = ["dump"]


    def dump(value, indent=2, **options):
        return str(value)
"""
CORE_SERVICE = """
    try:
        import mge_optional_speedups as fast_json
    except ImportError:
        fast_json = None

    from core import Item, dump
    from core.models import Item as Model


    class Service:
        def make(self):
            tags = ["a"]
            return [Item("x"), Item("y", *tags), Model("z", "a", "b", owner=1),
                    dump(1), dump(1, 4, sort_keys=True)]

        def later(self):
            from core.models import Item as Late
            return Late("w")
"""
WEB_INDEX = """
    export * from './format';
    export { default as Clock } from './clock';
"""
WEB_FORMAT = """
    export function pad(text: string, width = 2): string {
      return text.padStart(width, '0');
    }
    export type Width = number;
"""
WEB_CLOCK = """
    import { pad, type Width } from './index';

    export default class Clock {
      show(hours: number, width: Width = 2): string {
        return pad(String(hours), width);
      }
    }
"""
WEB_APP = """
    const { pad } = require('./format.js');
    module.exports = { shown: pad('1') };
"""


def test_valid_code_that_is_easy_to_misread_raises_no_failing_check(plan_with_files):
    masterplan = plan_with_files(
        {
            "Core": {"Models": {"core/__init__.py": CORE_INIT, "core/models.py": CORE_MODELS,
                                "core/util.py": CORE_UTIL}},
            "Api": {
                "Service": {"core/service.py": CORE_SERVICE},
                "Web": {"web/index.ts": WEB_INDEX, "web/format.ts": WEB_FORMAT,
                        "web/clock.ts": WEB_CLOCK, "web/app.js": WEB_APP},
            },
        }
    )  # fmt: skip
    run = validate(masterplan)
    problems = run.checks.filter(passed=False)
    assert not problems.exists(), [(c.level, c.category, c.file, c.message) for c in problems]
    # Seen and judged, not skipped: the unused import is a LOW note, the optional import
    # of a package that is not installed a LOW one (its fallback runs).
    notes = {(c.category, c.file, c.severity) for c in run.checks.exclude(severity="")}
    assert ("unused-import", "core/util.py", "LOW") in notes
    assert ("imports", "core/service.py", "LOW") in notes
    assert run.checks.filter(level=2, category="contracts", file="web/clock.ts").get().passed


def test_a_missing_tool_is_a_check_in_error_that_says_what_to_install(
    plan_with_files, monkeypatch, tmp_path
):
    monkeypatch.setattr(build, "TSC", tmp_path / "no-typescript" / "tsc")
    run = validate(plan_with_files({"W": {"T": {"a.ts": "export const a = 1;\n"}}}))
    check = run.checks.get(level=4, file="a.ts")
    assert check.status == "error" and check.passed is False
    assert "npm ci" in check.message


def test_a_validation_that_crashes_is_stored_as_an_error_not_left_running(
    plan_with_files, monkeypatch
):
    def broken(workspace, masterplan_id):
        raise OSError("disk full")

    monkeypatch.setattr(build, "check", broken)
    masterplan = plan_with_files({"M": {"T": {"a.py": "x = 1\n"}}})
    with pytest.raises(OSError):
        validate(masterplan)
    run = ValidationRun.objects.get(masterplan=masterplan)
    assert run.status == "error" and run.message == "OSError: disk full"
    assert run.finished_at is not None
