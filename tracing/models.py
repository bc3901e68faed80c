"""A trace per execution of an atom (or of an acceptance test's generation), and the
timeline of its events. Written only by tracing.service."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models

from execution.models import MONEY, Atom, MasterPlan, Wave


class AtomExecutionTrace(models.Model):
    class Scope(models.TextChoices):
        ATOM = "atom"
        REQUIREMENT = "requirement", "requirement (its acceptance test's generation)"

    class Status(models.TextChoices):
        RUNNING = "running"
        COMPLETED = "completed"
        FAILED = "failed"
        REQUIRES_REVIEW = "requires_review", "requires review (not generated code)"
        BLOCKED = "blocked"
        RELEASED = "released", "released (refused by the budget; runs again on resume)"
        WAITING = "waiting", "waiting for the provider (runs again once it answers)"
        ABANDONED = "abandoned", "abandoned (its worker stopped)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Indexed by trace_by_masterplan (its first column): a second index would only cost
    # every insert (each atom execution makes one).
    masterplan = models.ForeignKey(
        MasterPlan, on_delete=models.CASCADE, related_name="traces", db_index=False
    )
    scope = models.CharField(max_length=12, choices=Scope.choices, default=Scope.ATOM)
    atom = models.ForeignKey(  # indexed by trace_one_per_atom_execution
        Atom,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="traces",
        db_index=False,
    )
    wave = models.ForeignKey(
        Wave, null=True, blank=True, on_delete=models.SET_NULL, related_name="traces"
    )
    requirement = models.ForeignKey(
        "acceptance.Requirement",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="traces",
    )
    execution = models.PositiveIntegerField(
        default=1, help_text="1 for the first execution of its atom, 2 for the next …"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    error = models.TextField(blank=True)
    context_completeness_score = models.FloatField(
        null=True,
        blank=True,
        help_text="Share of its declared dependencies whose code was in its prompt.",
    )
    context_injected_at = models.DateTimeField(null=True, blank=True)
    total_retries = models.PositiveIntegerField(
        default=0, help_text="Attempts after the first, and calls asked again."
    )
    llm_calls = models.PositiveIntegerField(default=0)
    cache_hits = models.PositiveIntegerField(default=0)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cache_creation_input_tokens = models.PositiveIntegerField(default=0)
    cache_read_input_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(**MONEY, default=Decimal(0))
    cost_saved_usd = models.DecimalField(**MONEY, default=Decimal(0))
    execution_time_seconds = models.FloatField(null=True, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["started_at"]
        constraints = [
            # A requirement's traces have no atom: NULLs never collide.
            models.UniqueConstraint(
                fields=["atom", "execution"], name="trace_one_per_atom_execution"
            )
        ]
        indexes = [
            models.Index(fields=["masterplan", "started_at"], name="trace_by_masterplan"),
            models.Index(fields=["started_at"], name="trace_by_age"),
        ]

    def __str__(self) -> str:
        subject = self.atom_id or self.requirement_id
        return f"{self.scope} {subject} #{self.execution} {self.status}"


class TraceEvent(models.Model):
    """One step of an execution, in order (`seq`), with its time to the microsecond."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    trace = models.ForeignKey(  # indexed by trace_event_order (its first column)
        AtomExecutionTrace, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=32)
    at = models.DateTimeField()
    offset_ms = models.FloatField(help_text="Milliseconds since the execution started.")
    duration_ms = models.FloatField(
        null=True, blank=True, help_text="What the step took (a wait, a call)."
    )
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["trace", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["trace", "seq"], name="trace_event_order"),
        ]

    def __str__(self) -> str:
        return f"{self.trace_id} {self.seq} {self.kind}"
