"""The cost ledger and the audit trail of the budget: alerts, codes, overrides."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q, Sum, Value
from django.db.models.functions import Coalesce

from execution.models import MONEY, Atom, MasterPlan, Wave


def spent_by_masterplan() -> models.Expression:
    """An expression of a MasterPlan queryset: the sum of each plan's ledger entries
    (a correlated subquery, so it sits beside other aggregations without multiplying)."""
    total = (
        CostEntry.objects.filter(masterplan=models.OuterRef("pk"))
        .order_by()
        .values("masterplan")
        .annotate(total=Sum("cost_usd"))
        .values("total")
    )
    return Coalesce(
        models.Subquery(total), Value(Decimal(0)), output_field=models.DecimalField(**MONEY)
    )


class CostEntryQuerySet(models.QuerySet["CostEntry"]):
    def total(self) -> Decimal:
        """USD to the micro-dollar (PostgreSQL's SUM widens the scale)."""
        total = self.aggregate(total=Sum("cost_usd"))["total"] or Decimal(0)
        return total.quantize(Decimal("0.000001"))


class CostEntry(models.Model):
    """One LLM call's cost. Totals per atom, wave and masterplan come from here."""

    class Kind(models.TextChoices):
        SETTLED = "settled"
        # A call whose worker died: its cost estimated (budget.abandoned), until corrected.
        ESTIMATED = "estimated"
        # An estimated call given its share of the provider's usage report (budget.reconcile).
        RECONCILED = "reconciled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    masterplan = models.ForeignKey(
        MasterPlan, on_delete=models.CASCADE, related_name="cost_entries"
    )
    atom = models.ForeignKey(
        Atom, null=True, blank=True, on_delete=models.SET_NULL, related_name="cost_entries"
    )
    wave = models.ForeignKey(
        Wave, null=True, blank=True, on_delete=models.SET_NULL, related_name="cost_entries"
    )
    model = models.CharField(max_length=100)
    purpose = models.CharField(max_length=40, default="atom")
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cache_creation_input_tokens = models.PositiveIntegerField(default=0)
    cache_creation_1h_input_tokens = models.PositiveIntegerField(
        default=0, help_text="Of the cache writes, those kept for an hour (the dearer rate)."
    )
    cache_read_input_tokens = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(**MONEY)
    reserved_usd = models.DecimalField(**MONEY, default=Decimal(0))
    batch = models.BooleanField(default=False)
    cache_hit = models.BooleanField(default=False)
    saved_usd = models.DecimalField(
        **MONEY, default=Decimal(0), help_text="A cache hit: what the answer cost when it was paid."
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.SETTLED)
    reservation_id = models.CharField(max_length=40, unique=True)
    requested_at = models.DateTimeField(
        null=True, blank=True,
        help_text="An estimated entry: when the call was sent (a usage report corrects it).",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CostEntryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "cost entries"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["masterplan", "created_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(cost_usd__gte=0), name="cost_entry_not_negative")
        ]

    def __str__(self) -> str:
        return f"{self.model} ${self.cost_usd}"


class BudgetAlert(models.Model):
    class Level(models.TextChoices):
        WARNING = "warning"  # soft cap crossed
        CRITICAL = "critical"  # hard cap reached: paused

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    masterplan = models.ForeignKey(MasterPlan, on_delete=models.CASCADE, related_name="alerts")
    level = models.CharField(max_length=10, choices=Level.choices)
    threshold_usd = models.DecimalField(**MONEY, help_text="The cap that was crossed.")
    spent_usd = models.DecimalField(**MONEY)
    message = models.TextField()
    channels = models.JSONField(default=list, help_text="Where it was delivered.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Once per crossing: a cap value raises its alert one time.
            models.UniqueConstraint(
                fields=["masterplan", "level", "threshold_usd"], name="budget_alert_once_per_cap"
            )
        ]

    def __str__(self) -> str:
        return f"{self.level}: {self.message}"


class OverrideCode(models.Model):
    """A one-time confirmation code for raising a paused plan's hard cap (stored hashed)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    masterplan = models.ForeignKey(
        MasterPlan, on_delete=models.CASCADE, related_name="override_codes"
    )
    code_hash = models.CharField(max_length=64)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", help_text="Who asked for it (under the two-person rule not its user).",
    )  # fmt: skip
    issued_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(
        null=True, blank=True, help_text="A newer code replaced it: one outstanding code a plan."
    )

    class Meta:
        ordering = ["-issued_at"]


class BudgetOverride(models.Model):
    """Who raised a hard cap, when, from what to what, and why."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    masterplan = models.ForeignKey(MasterPlan, on_delete=models.CASCADE, related_name="overrides")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    old_hard_cap_usd = models.DecimalField(**MONEY)
    new_hard_cap_usd = models.DecimalField(**MONEY)
    old_soft_cap_usd = models.DecimalField(**MONEY, null=True, blank=True)
    new_soft_cap_usd = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="Null on overrides made before it was kept."
    )
    spent_usd = models.DecimalField(**MONEY)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]


class CapRequest(models.Model):
    """A hard cap above what the asker may set (an import or an edit by a reviewer), held
    for an approver: the plan runs with the highest cap the asker may set meanwhile. The
    row is the audit trail of the decision too."""

    class Source(models.TextChoices):
        IMPORT = "import"
        EDIT = "edit"

    class Status(models.TextChoices):
        PENDING = "pending"
        GRANTED = "granted"
        REFUSED = "refused"
        SUPERSEDED = "superseded"  # a newer request, or an override, took its place

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    masterplan = models.ForeignKey(
        MasterPlan, on_delete=models.CASCADE, related_name="cap_requests"
    )
    source = models.CharField(max_length=10, choices=Source.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    hard_cap_usd = models.DecimalField(**MONEY, help_text="The hard cap asked for.")
    soft_cap_usd = models.DecimalField(**MONEY, help_text="The soft cap asked for.")
    applied_hard_cap_usd = models.DecimalField(
        **MONEY, help_text="The hard cap the plan got meanwhile."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True, help_text="The approver's reason.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["masterplan"],
                condition=Q(status="pending"),
                name="cap_request_one_pending_per_plan",
            ),
            models.CheckConstraint(
                condition=Q(soft_cap_usd__lte=models.F("hard_cap_usd")),
                name="cap_request_soft_within_hard",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.masterplan_id}: hard cap ${self.hard_cap_usd} ({self.status})"
