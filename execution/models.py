"""The masterplan domain: a plan's hierarchy, its atoms, their dependencies and waves."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import TypedDict

from django.conf import settings
from django.db import models
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from execution.runtime.spend import spent_expression


class MoneyDigits(TypedDict):
    """The precision of every money column and field (`**MONEY`)."""

    max_digits: int
    decimal_places: int


MONEY: MoneyDigits = {"max_digits": 14, "decimal_places": 6}


def _atom_count(**matching: object) -> Coalesce:
    atoms = (
        Atom.objects.filter(masterplan=OuterRef("pk"), **matching)
        .order_by()
        .values("masterplan")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(atoms, output_field=models.IntegerField()), 0)


class MasterPlanQuerySet(models.QuerySet["MasterPlan"]):
    def with_progress(self) -> MasterPlanQuerySet:
        """Atom counts and spend (the ledger's) per plan, in the same query as the plans.

        Each count is a subquery on the plan's atoms: COUNT(DISTINCT) over a join, grouped by
        every column of the plan, took ~160 ms a plan of 1,000 atoms (the list and the live
        region ask every 2 s); the subqueries take ~2 ms."""
        return self.annotate(
            atom_total=_atom_count(),
            atom_completed=_atom_count(status="completed"),
            atom_placeholders=_atom_count(placeholder=True),
            cost_total_usd=spent_expression(),
        )

    def with_spent(self) -> MasterPlanQuerySet:
        """The ledger's spend per plan (`cost_total_usd`), in the same query as the plans."""
        return self.annotate(cost_total_usd=spent_expression())


class MasterPlan(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        READY = "ready"
        RUNNING = "running"
        PAUSED = "paused"
        PAUSED_BUDGET = "paused_budget"
        PAUSED_PROVIDER = "paused_provider"  # the provider did not answer; a probe resumes
        COMPLETED = "completed"
        GATE_FAILED = "gate_failed"
        FAILED = "failed"
        CANCELLED = "cancelled"

    ACTIVE_STATUSES = (Status.RUNNING,)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    summary = models.TextField(blank=True, help_text="The front matter's description.")
    description = models.TextField(help_text="The masterplan document as imported (markdown).")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.READY)
    status_reason = models.TextField(blank=True)
    budget_soft_cap_usd = models.DecimalField(**MONEY)
    budget_hard_cap_usd = models.DecimalField(**MONEY)
    cost_paused_at = models.DateTimeField(null=True, blank=True)
    workspace_path = models.CharField(max_length=500)
    default_model = models.CharField(
        max_length=100, blank=True, help_text="Empty: choose the model by atom complexity."
    )
    options = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MasterPlanQuerySet.as_manager()

    class Meta:
        verbose_name = "masterplan"
        ordering = ["-created_at"]
        permissions = [
            ("run_masterplan", "Can start, pause, resume and cancel a masterplan"),
            ("run_acceptance_tests", "Can generate and run acceptance tests"),
            ("override_budget", "Can override a masterplan's hard budget cap"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(budget_soft_cap_usd__lte=models.F("budget_hard_cap_usd")),
                name="masterplan_soft_cap_within_hard_cap",
                violation_error_message="The soft cap must not exceed the hard cap.",
            ),
            models.CheckConstraint(
                condition=Q(budget_soft_cap_usd__gte=0),
                name="masterplan_soft_cap_not_negative",
                violation_error_message="The soft cap must not be negative.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES


class Phase(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    masterplan = models.ForeignKey(MasterPlan, on_delete=models.CASCADE, related_name="phases")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["masterplan", "position"]
        constraints = [
            models.UniqueConstraint(fields=["masterplan", "position"], name="phase_position_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Milestone(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    phase = models.ForeignKey(Phase, on_delete=models.CASCADE, related_name="milestones")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["phase", "position"]
        constraints = [
            models.UniqueConstraint(fields=["phase", "position"], name="milestone_position_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Task(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    milestone = models.ForeignKey(Milestone, on_delete=models.CASCADE, related_name="tasks")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["milestone", "position"]
        constraints = [
            models.UniqueConstraint(fields=["milestone", "position"], name="task_position_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Wave(models.Model):
    """A topological level of the atom dependency graph; waves run one after another."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        COMPLETED = "completed"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    masterplan = models.ForeignKey(MasterPlan, on_delete=models.CASCADE, related_name="waves")
    number = models.PositiveIntegerField(help_text="1 runs first.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    atom_count = models.PositiveIntegerField(default=0)
    completed_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["masterplan", "number"]
        constraints = [
            models.UniqueConstraint(fields=["masterplan", "number"], name="wave_number_unique")
        ]

    def __str__(self) -> str:
        return f"Wave {self.number}"


class Atom(models.Model):
    """One small unit of code, written by the LLM into one file of the workspace."""

    class Language(models.TextChoices):
        PYTHON = "python"
        TYPESCRIPT = "typescript"
        JAVASCRIPT = "javascript"

    class Complexity(models.TextChoices):
        LOW = "low"
        MEDIUM = "medium"
        HIGH = "high"

    class Status(models.TextChoices):
        PENDING = "pending"
        READY = "ready"
        RUNNING = "running"
        COMPLETED = "completed"
        FAILED = "failed"
        SKIPPED = "skipped"
        BLOCKED = "blocked"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    masterplan = models.ForeignKey(MasterPlan, on_delete=models.CASCADE, related_name="atoms")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="atoms")
    wave = models.ForeignKey(
        Wave, null=True, blank=True, on_delete=models.SET_NULL, related_name="atoms"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(help_text="The spec the LLM implements.")
    file_path = models.CharField(max_length=255, help_text="Relative to the workspace.")
    language = models.CharField(max_length=20, choices=Language.choices)
    complexity = models.CharField(
        max_length=10, choices=Complexity.choices, default=Complexity.MEDIUM
    )
    position = models.PositiveIntegerField(help_text="Order within its task.")
    source_line = models.PositiveIntegerField(help_text="Line of the atom in the document.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=3)
    provider_retries = models.PositiveIntegerField(
        default=0, help_text="Calls asked again after a transient provider error (429, 5xx …)."
    )
    generated_code = models.TextField(blank=True)
    placeholder = models.BooleanField(
        default=False,
        help_text="The offline provider's stand-in (no response stored for this file): "
        "not generated code.",
    )
    last_error = models.TextField(blank=True)
    cost_usd = models.DecimalField(**MONEY, default=Decimal(0))
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    execution_time_seconds = models.FloatField(null=True, blank=True)
    context_score = models.FloatField(
        null=True, blank=True,
        help_text="Share of its declared dependencies and referenced names its prompt's "
        "context held, when it last ran (execution.context).",
    )  # fmt: skip
    lease_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="A running atom whose lease lapses is run again."
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    TERMINAL_STATUSES = (Status.COMPLETED, Status.FAILED, Status.SKIPPED, Status.BLOCKED)
    RUNNABLE_STATUSES = (Status.PENDING, Status.READY)

    class Meta:
        ordering = ["masterplan", "wave__number", "source_line"]
        constraints = [
            models.UniqueConstraint(fields=["masterplan", "name"], name="atom_name_unique"),
            models.UniqueConstraint(
                fields=["masterplan", "file_path"], name="atom_file_path_unique"
            ),
            models.CheckConstraint(
                condition=Q(attempts__lte=models.F("max_attempts")),
                name="atom_attempts_within_max",
            ),
            models.CheckConstraint(condition=Q(cost_usd__gte=0), name="atom_cost_not_negative"),
        ]
        indexes = [models.Index(fields=["masterplan", "status"])]

    def __str__(self) -> str:
        return self.name

    @property
    def model_name(self) -> str:
        """The LLM model that writes this atom: the plan's choice, else by complexity."""
        return self.masterplan.default_model or settings.MGE_MODEL_BY_COMPLEXITY[self.complexity]


class AtomDependency(models.Model):
    """`atom` needs `depends_on` to be completed first."""

    class Kind(models.TextChoices):
        DECLARED = "declared"
        # Found in the generated code after a wave (execution.runtime.dependency_check):
        IMPORT = "import"
        TYPE_IMPORT = "type_import"
        DYNAMIC_IMPORT = "dynamic_import"
        REQUIRE = "require"
        REEXPORT = "reexport"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    masterplan = models.ForeignKey(
        MasterPlan, on_delete=models.CASCADE, related_name="dependencies"
    )
    atom = models.ForeignKey(Atom, on_delete=models.CASCADE, related_name="dependencies")
    depends_on = models.ForeignKey(Atom, on_delete=models.CASCADE, related_name="dependants")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.DECLARED)
    line = models.PositiveIntegerField(
        null=True, blank=True, help_text="A detected one: the line of the import in the file."
    )

    class Meta:
        verbose_name_plural = "atom dependencies"
        constraints = [
            models.UniqueConstraint(fields=["atom", "depends_on"], name="atom_dependency_unique"),
            models.CheckConstraint(
                condition=~Q(atom=models.F("depends_on")), name="atom_dependency_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.atom} → {self.depends_on}"


class WaveCheck(models.Model):
    """What a registered check (execution.runtime.checks) said after a wave: the lifecycle holds
    the plan until the checks that decide have passed."""

    class State(models.TextChoices):
        PENDING = "pending"
        PASSED = "passed"
        FAILED = "failed"
        UNDECIDED = "undecided", "undecided (the check could not decide; resume asks again)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    masterplan = models.ForeignKey(MasterPlan, on_delete=models.CASCADE, related_name="checks")
    wave = models.ForeignKey(Wave, on_delete=models.CASCADE, related_name="checks")
    check_name = models.CharField(max_length=50)
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    reason = models.TextField(blank=True)
    job_id = models.CharField(max_length=64, blank=True)
    queued_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["masterplan", "wave__number", "check_name"]
        constraints = [
            models.UniqueConstraint(fields=["wave", "check_name"], name="wave_check_unique")
        ]

    def __str__(self) -> str:
        return f"{self.check_name} after wave {self.wave.number}: {self.state}"


class ContextChunk(models.Model):
    """A piece of a plan's corpus for an atom's context: another atom's spec (the plan part
    of the document) or a written file. Indexed for full-text search (execution.context)."""

    class Kind(models.TextChoices):
        SPEC = "spec"
        FILE = "file"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    masterplan = models.ForeignKey(MasterPlan, on_delete=models.CASCADE, related_name="chunks")
    atom = models.ForeignKey(Atom, on_delete=models.CASCADE, related_name="chunks")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    source = models.CharField(max_length=255, help_text="The file the chunk is of, or is for.")
    language = models.CharField(max_length=20, choices=Atom.Language.choices)
    text = models.TextField(help_text="What an atom's prompt shows of it.")
    search_text = models.TextField(help_text="What a query is matched against.")
    names = models.JSONField(default=list, help_text="The public names a file defines.")
    digest = models.CharField(max_length=64, help_text="SHA-256 of the text.")
    wave_number = models.PositiveIntegerField(help_text="The wave of its atom.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["atom", "kind", "digest"], name="chunk_unique"),
        ]
        indexes = [models.Index(fields=["masterplan", "kind", "wave_number"])]
