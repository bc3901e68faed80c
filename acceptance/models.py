from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from execution.models import MasterPlan, Wave


class Requirement(models.Model):
    """A MUST or SHOULD statement of a masterplan; acceptance tests check it."""

    class Priority(models.TextChoices):
        MUST = "must"
        SHOULD = "should"

    class ClassifiedBy(models.TextChoices):
        HEADING = "heading", "its ### MUST / ### SHOULD heading"
        KEYWORD = "keyword", "a requirement keyword in its text"
        LLM = "llm", "the LLM (the text was ambiguous)"
        DEFAULT = "default", "the default for unclear text (must)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    masterplan = models.ForeignKey(
        MasterPlan, on_delete=models.CASCADE, related_name="requirements"
    )
    text = models.TextField()
    priority = models.CharField(max_length=10, choices=Priority.choices)
    classified_by = models.CharField(
        max_length=10, choices=ClassifiedBy.choices, default=ClassifiedBy.HEADING
    )
    flag = models.TextField(
        blank=True, help_text="Why the classification deserves a look (e.g. keyword vs heading)."
    )
    source_line = models.PositiveIntegerField(help_text="Line of the requirement in the document.")
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["masterplan", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["masterplan", "position"], name="requirement_position_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.priority.upper()}: {self.text[:60]}"


class AcceptanceTest(models.Model):
    """The generated test of one requirement (regenerating replaces it)."""

    class Framework(models.TextChoices):
        PYTEST = "pytest"
        VITEST = "vitest"

    class Status(models.TextChoices):
        VALID = "valid"
        INVALID = "invalid", "invalid (failed the syntax check; counted as failed)"

    class GeneratedBy(models.TextChoices):
        LLM = "llm", "LLM"
        TEMPLATE = "template", "template (the LLM was unavailable)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    masterplan = models.ForeignKey(
        MasterPlan, on_delete=models.CASCADE, related_name="acceptance_tests"
    )
    requirement = models.OneToOneField(
        Requirement, on_delete=models.CASCADE, related_name="acceptance_test"
    )
    framework = models.CharField(max_length=10, choices=Framework.choices)
    file_path = models.CharField(
        max_length=300, help_text="Where the test file goes, relative to the workspace."
    )
    code = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.VALID)
    invalid_reason = models.TextField(blank=True)
    generated_by = models.CharField(max_length=10, choices=GeneratedBy.choices)
    attempts = models.PositiveSmallIntegerField(default=1)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", help_text="Who read a template test and vouched that it checks enough.",
    )  # fmt: skip
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["masterplan", "requirement__position"]
        constraints = [
            models.UniqueConstraint(
                fields=["masterplan", "file_path"], name="acceptance_test_path_unique"
            )
        ]

    def __str__(self) -> str:
        return self.file_path

    @property
    def verified(self) -> bool:
        """A template test only checks that the code's names exist: its pass is no evidence
        until a reviewer vouches for it (a regeneration by the LLM replaces it)."""
        return self.generated_by == self.GeneratedBy.LLM or self.reviewed_at is not None


class TestRun(models.Model):
    """One batched run of a masterplan's tests in the sandbox (after a wave or on demand)."""

    __test__ = False  # not a pytest class, despite the name

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        FINISHED = "finished"
        REFUSED = "refused", "refused (no sandbox isolation available)"
        ERROR = "error"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    masterplan = models.ForeignKey(MasterPlan, on_delete=models.CASCADE, related_name="test_runs")
    wave = models.ForeignKey(
        Wave, null=True, blank=True, on_delete=models.SET_NULL, related_name="test_runs"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    isolation = models.CharField(
        max_length=20, blank=True, help_text="The sandbox in force (bwrap, unshare, none)."
    )
    message = models.TextField(blank=True)
    job_id = models.CharField(max_length=100, blank=True)
    written_files = models.JSONField(
        default=list, blank=True, help_text="The atoms' files written when the run started."
    )
    code_complete = models.BooleanField(
        default=False, help_text="Every atom had finished when the run started."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.masterplan} run {self.created_at:%Y-%m-%d %H:%M:%S}"


class TestResult(models.Model):
    """The outcome of one acceptance test in one run."""

    __test__ = False

    class Status(models.TextChoices):
        PASSED = "passed"
        FAILED = "failed"
        ERROR = "error"
        SKIPPED = "skipped"
        TIMEOUT = "timeout"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    run = models.ForeignKey(TestRun, on_delete=models.CASCADE, related_name="results")
    test = models.ForeignKey(AcceptanceTest, on_delete=models.CASCADE, related_name="results")
    wave = models.ForeignKey(
        Wave, null=True, blank=True, on_delete=models.SET_NULL, related_name="test_results"
    )
    status = models.CharField(max_length=10, choices=Status.choices)
    duration_s = models.FloatField(default=0.0)
    message = models.TextField(blank=True)
    trace = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    LATEST_FIRST = ("-run__started_at", "-created_at")
    """A test's latest result is that of the run that copied the workspace last, not of the
    run that happened to finish last."""

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["test", "-created_at"], name="result_latest_idx")]
        constraints = [models.UniqueConstraint(fields=["run", "test"], name="result_once_per_run")]

    def __str__(self) -> str:
        return f"{self.test} {self.status}"
