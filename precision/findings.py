"""What a level reports before it is stored: checks and the findings in them."""

from __future__ import annotations

from dataclasses import dataclass, field

from precision.models import FAILING_SEVERITIES, Severity, ValidationCheck

_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


@dataclass(frozen=True)
class Finding:
    severity: str
    message: str
    line: int | None = None
    code: str = ""
    """The tool's rule (F821, TS2322 …), when a tool found it."""

    def as_json(self) -> dict[str, object]:
        return {
            "severity": self.severity,
            "message": self.message,
            "line": self.line,
            "code": self.code,
        }


@dataclass
class CheckResult:
    level: int
    scope: str
    category: str
    file: str
    subject: str
    """What was checked, for a check without findings ("imports pkg.a")."""
    line: int | None = None
    findings: list[Finding] = field(default_factory=list)
    error: str = ""
    """The check could not run (a missing tool): it says what to install."""

    @property
    def worst(self) -> Finding | None:
        return max(
            self.findings, key=lambda finding: _RANK[Severity(finding.severity)], default=None
        )

    @property
    def status(self) -> str:
        if self.error:
            return ValidationCheck.Status.ERROR
        failing = any(finding.severity in FAILING_SEVERITIES for finding in self.findings)
        return ValidationCheck.Status.FAILED if failing else ValidationCheck.Status.PASSED

    @property
    def message(self) -> str:
        if self.error:
            return self.error
        worst = self.worst
        return worst.message if worst else self.subject

    @property
    def headline_line(self) -> int | None:
        worst = self.worst
        return worst.line if worst and worst.line else self.line
