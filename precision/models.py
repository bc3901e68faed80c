"""What the L1–L4 validation of a masterplan's workspace found, and the precision scores
computed from it and from the acceptance tests."""

from __future__ import annotations

import uuid

from django.db import models

from execution.models import Atom, MasterPlan, Wave


class Severity(models.TextChoices):
    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"


FAILING_SEVERITIES = (Severity.CRITICAL, Severity.HIGH)
"""A check with a finding of these fails; MEDIUM and LOW ones are shown, not counted."""


class ValidationRun(models.Model):
    """One validation of a plan's workspace: after a wave (L1–L3), at its end or on demand
    (L1–L4)."""

    class Status(models.TextChoices):
        RUNNING = "running"
        FINISHED = "finished"
        ERROR = "error"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    masterplan = models.ForeignKey(
        MasterPlan, on_delete=models.CASCADE, related_name="validation_runs"
    )
    wave = models.ForeignKey(
        Wave, null=True, blank=True, on_delete=models.SET_NULL, related_name="validation_runs"
    )
    levels = models.JSONField(default=list, help_text="The levels run, e.g. [1, 2, 3, 4].")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    message = models.TextField(blank=True)
    files = models.PositiveIntegerField(default=0, help_text="Source files validated.")
    tools = models.JSONField(
        default=dict, blank=True, help_text="The version of each tool used (ruff, tsc …)."
    )
    isolation = models.CharField(
        max_length=40, blank=True, help_text="The sandbox L4 ran in (empty: L4 did not run)."
    )
    duration_s = models.FloatField(default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["masterplan", "-created_at"], name="validation_run_latest")]

    def __str__(self) -> str:
        return f"{self.masterplan} L{','.join(map(str, self.levels))} {self.created_at:%H:%M:%S}"


class ValidationCheck(models.Model):
    """One thing a level checked (a file's names, one import, the build …) and its findings."""

    class Level(models.IntegerChoices):
        ATOMIC = 1, "L1 atomic"
        TASK = 2, "L2 task"
        MILESTONE = 3, "L3 milestone"
        MASTERPLAN = 4, "L4 masterplan"

    class Scope(models.TextChoices):
        ATOM = "atom"
        TASK = "task"
        MILESTONE = "milestone"
        MASTERPLAN = "masterplan"

    class Status(models.TextChoices):
        PASSED = "passed"
        FAILED = "failed"
        ERROR = "error", "error (the check could not run; not counted as passed)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    run = models.ForeignKey(ValidationRun, on_delete=models.CASCADE, related_name="checks")
    level = models.PositiveSmallIntegerField(choices=Level.choices)
    scope = models.CharField(max_length=12, choices=Scope.choices)
    category = models.CharField(max_length=40)
    status = models.CharField(max_length=10, choices=Status.choices)
    passed = models.BooleanField(help_text="No CRITICAL or HIGH finding, and the check ran.")
    severity = models.CharField(
        max_length=10, choices=Severity.choices, blank=True, help_text="Of the worst finding."
    )
    message = models.TextField(help_text="The worst finding, or what was checked.")
    file = models.CharField(max_length=300, blank=True, help_text="Relative to the workspace.")
    line = models.PositiveIntegerField(null=True, blank=True)
    findings = models.JSONField(
        default=list, blank=True, help_text="Every finding: severity, message, line, code."
    )
    atom = models.ForeignKey(
        Atom, null=True, blank=True, on_delete=models.SET_NULL, related_name="validation_checks"
    )

    class Meta:
        ordering = ["run", "level", "file", "line"]
        indexes = [models.Index(fields=["run", "level", "passed"], name="validation_check_lookup")]

    def __str__(self) -> str:
        return f"L{self.level} {self.category} {self.file}:{self.line or ''} {self.status}"


class PrecisionSnapshot(models.Model):
    """The composite score at one moment (after a wave, a validation, an acceptance run)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    masterplan = models.ForeignKey(
        MasterPlan, on_delete=models.CASCADE, related_name="precision_snapshots"
    )
    run = models.ForeignKey(
        ValidationRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="snapshots"
    )
    wave = models.ForeignKey(
        Wave, null=True, blank=True, on_delete=models.SET_NULL, related_name="precision_snapshots"
    )
    score = models.FloatField()
    spec_conformance = models.FloatField()
    integration_pass = models.FloatField()
    validation_pass = models.FloatField()
    meets_target = models.BooleanField()
    no_data = models.JSONField(
        default=list, blank=True, help_text="The components that had nothing to count (1.0)."
    )
    counts = models.JSONField(default=dict, help_text="What each component was computed from.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["masterplan", "-created_at"], name="precision_snapshot_latest")
        ]

    def __str__(self) -> str:
        return f"{self.masterplan} {self.score:.1%}"
