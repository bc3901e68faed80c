"""The release gate: every MUST test passes and at least 95 % of the SHOULD tests pass.

It reads each requirement's test and that test's latest result. A requirement without a
test, an invalid test or a test never run counts as not passing, with that reason: no
tests at all is a failed gate, never a pass by division by zero. Nor does a template test
(written when no LLM answered: it checks only that names exist) count as a pass until a
reviewer marks it reviewed — a test that checks nothing releases nothing.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS
from django.db.models import OuterRef, QuerySet, Subquery

from acceptance.imports import imported_files
from acceptance.models import AcceptanceTest, Requirement, TestResult
from mge_site.prepared import PreparedValues

SHOULD_PASS_PCT = 95
UNVERIFIED = (
    "written from a template (no LLM answered): it checks only that the code's names exist; "
    "regenerate it with a provider, or a reviewer marks it reviewed"
)

_Id = TypeVar("_Id", bound=uuid.UUID | str)


@dataclass(frozen=True)
class Blocking:
    requirement_id: str
    test_id: str | None
    priority: str
    text: str
    status: str
    """passed never appears here; else a result status, or missing / invalid / not_run /
    unverified (a template test that passed)."""
    message: str
    label: str = ""
    """The requirement as the pages number it: R1, R2, …"""


@dataclass(frozen=True)
class GateStatus:
    gate_passed: bool
    can_release: bool
    must_total: int
    must_passed: int
    should_total: int
    should_passed: int
    reason: str
    blocking_tests: list[Blocking] = field(default_factory=list)

    def blocking_summary(self, limit: int = 5) -> str:
        """ "R1 (failed), R4 (unverified) and 3 more": what a status line can name."""
        named = [f"{b.label} ({b.status.replace('_', ' ')})" for b in self.blocking_tests[:limit]]
        more = len(self.blocking_tests) - limit
        return ", ".join(named) + (f" and {more} more" if more > 0 else "")

    @property
    def must_pass_rate(self) -> float | None:
        return self.must_passed / self.must_total if self.must_total else None

    @property
    def should_pass_rate(self) -> float | None:
        return self.should_passed / self.should_total if self.should_total else None

    def as_json(self) -> dict[str, Any]:
        def rate(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        return {
            "gate_passed": self.gate_passed,
            "can_release": self.can_release,
            "must_pass_rate": rate(self.must_pass_rate),
            "should_pass_rate": rate(self.should_pass_rate),
            "must": {"total": self.must_total, "passed": self.must_passed},
            "should": {"total": self.should_total, "passed": self.should_passed},
            "blocking_tests": [
                {
                    "requirement": b.requirement_id,
                    "label": b.label,
                    "test": b.test_id,
                    "priority": b.priority,
                    "text": b.text,
                    "status": b.status,
                    "message": b.message,
                }
                for b in self.blocking_tests
            ],  # fmt: skip
            "reason": self.reason,
        }


def _outcome(test: AcceptanceTest | None, latest: str | None, message: str) -> tuple[str, str]:
    """(status, why) of a requirement's test: 'passed' or why it does not count as such."""
    if test is None:
        return "missing", "no acceptance test has been generated"
    if test.status == AcceptanceTest.Status.INVALID:
        return "invalid", f"the generated test is invalid: {test.invalid_reason}"
    if latest is None:
        return "not_run", "the test has never run"
    if latest == TestResult.Status.PASSED and not test.verified:
        return "unverified", UNVERIFIED
    if latest == TestResult.Status.PASSED:
        return "passed", ""
    return latest, message or f"the test ended {latest}"


def gate_status(masterplan_id: uuid.UUID | str) -> GateStatus:
    """One plan's gate, its requirements read by SQL compiled once (the gate status is
    polled: mge_site.prepared)."""
    pk = masterplan_id if isinstance(masterplan_id, uuid.UUID) else uuid.UUID(masterplan_id)
    return _gate(_requirements_with_latest_results(pk))


_TEST_FIELDS = ("id", "status", "invalid_reason", "generated_by", "reviewed_at")
_REQUIREMENTS = PreparedValues(
    lambda pk: with_latest_results(Requirement.objects.filter(masterplan_id=pk)).values(
        "id",
        "masterplan_id",
        "text",
        "priority",
        "position",
        "latest_status",
        "latest_message",
        *(f"acceptance_test__{name}" for name in _TEST_FIELDS),
    ),
    uuid.UUID,
)


def _requirements_with_latest_results(masterplan_id: uuid.UUID) -> list[Requirement]:
    """As `with_latest_results` gives them, with what `_gate` reads of each test."""
    requirements = []
    for row in _REQUIREMENTS.rows(masterplan_id):
        test_values = [row.pop(f"acceptance_test__{name}") for name in _TEST_FIELDS]
        latest_status, latest_message = row.pop("latest_status"), row.pop("latest_message")
        requirement = Requirement.from_db(DEFAULT_DB_ALIAS, list(row), list(row.values()))
        requirement.latest_status = latest_status  # type: ignore[attr-defined]
        requirement.latest_message = latest_message  # type: ignore[attr-defined]
        test = None
        if test_values[0] is not None:
            test = AcceptanceTest.from_db(DEFAULT_DB_ALIAS, list(_TEST_FIELDS), test_values)
        # What select_related would have cached: reading the relation asks no query.
        Requirement.acceptance_test.related.set_cached_value(requirement, test)
        requirements.append(requirement)
    return requirements


def wave_gate_status(
    masterplan_id: uuid.UUID | str, written: set[str], planned: set[str]
) -> GateStatus:
    """The gate after a wave: only the requirements whose test imports no file that is
    still to be written (`planned` − `written`) count yet; the rest are not due."""
    pending = planned - written
    requirements = with_latest_results(Requirement.objects.filter(masterplan_id=masterplan_id))
    due, not_due = [], 0
    for requirement in requirements:
        test = getattr(requirement, "acceptance_test", None)
        if test is not None and imported_files(test.code, test.framework, test.file_path,
                                               pending):  # fmt: skip
            not_due += 1
        else:
            due.append(requirement)
    gate = _gate(due)
    if not due and not_due:
        reason = f"no requirement can be tested yet ({not_due} wait for later waves)"
        return GateStatus(True, True, 0, 0, 0, 0, reason)
    if not_due:
        gate = dataclasses.replace(
            gate, reason=f"{gate.reason} ({not_due} requirements wait for later waves)"
        )
    return gate


def gate_statuses(masterplan_ids: Sequence[_Id]) -> dict[_Id, GateStatus]:
    """The gates of several plans in one query (a list page shows one per row)."""
    requirements = with_latest_results(Requirement.objects.filter(masterplan_id__in=masterplan_ids))
    by_plan: dict[_Id, list[Requirement]] = {pk: [] for pk in masterplan_ids}
    key_of = {str(pk): pk for pk in masterplan_ids}  # the ids may come as UUIDs or as text
    for requirement in requirements:
        by_plan[key_of[str(requirement.masterplan_id)]].append(requirement)
    return {pk: _gate(listed) for pk, listed in by_plan.items()}


def with_latest_results(requirements: QuerySet[Requirement]) -> QuerySet[Requirement]:
    """With each one's test and the status and message of that test's latest result."""
    latest = TestResult.objects.filter(test=OuterRef("acceptance_test")).order_by(
        *TestResult.LATEST_FIRST
    )
    return (
        requirements.select_related("acceptance_test")
        .annotate(
            latest_status=Subquery(latest.values("status")[:1]),
            latest_message=Subquery(latest.values("message")[:1]),
        )
        .order_by("masterplan_id", "position")
    )


def _gate(requirements: list[Requirement]) -> GateStatus:
    counts = {"must": [0, 0], "should": [0, 0]}
    blocking = []
    unverified: list[int] = []
    for requirement in requirements:
        test = getattr(requirement, "acceptance_test", None)
        status, why = _outcome(
            test,
            requirement.latest_status,  # type: ignore[attr-defined]
            requirement.latest_message or "",  # type: ignore[attr-defined]
        )
        counts[requirement.priority][0] += 1
        if status == "unverified":
            unverified.append(requirement.position + 1)
        if status == "passed":
            counts[requirement.priority][1] += 1
        else:
            blocking.append(
                Blocking(str(requirement.pk), str(test.pk) if test else None,
                         requirement.priority, requirement.text, status, why,
                         f"R{requirement.position + 1}")
            )  # fmt: skip
    (must_total, must_passed), (should_total, should_passed) = counts["must"], counts["should"]
    must_ok = must_passed == must_total
    should_ok = should_passed * 100 >= SHOULD_PASS_PCT * should_total
    if must_total + should_total == 0:
        reason = "no requirements, so no acceptance tests: nothing shows the code works"
        return GateStatus(False, False, 0, 0, 0, 0, reason)
    reasons = []
    if unverified:
        reasons.append(
            f"{requirement_labels(unverified)} {'has' if len(unverified) == 1 else 'have'} no "
            "real test yet (written from a template: no LLM answered); regenerate with a "
            "provider or mark a test reviewed"
        )
    if not must_ok:
        reasons.append(f"{must_total - must_passed} of {must_total} MUST tests do not pass")
    if not should_ok:
        reasons.append(
            f"SHOULD tests pass {should_passed} of {should_total} "
            f"({should_passed / should_total:.1%}), below {SHOULD_PASS_PCT}%"
        )
    passed = must_ok and should_ok
    return GateStatus(
        gate_passed=passed,
        can_release=must_ok,
        must_total=must_total,
        must_passed=must_passed,
        should_total=should_total,
        should_passed=should_passed,
        reason="; ".join(reasons)
        if reasons
        else f"every MUST test passes and {should_passed} of {should_total} SHOULD tests pass",
        blocking_tests=blocking,
    )


def requirement_labels(numbers: list[int]) -> str:
    """[1, 2, 3, 5] → "R1–R3, R5"."""
    runs: list[list[int]] = []
    for number in sorted(numbers):
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return ", ".join(f"R{run[0]}" if len(run) == 1 else f"R{run[0]}–R{run[-1]}" for run in runs)
