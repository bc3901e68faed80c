"""Snapshots of the caches' counters, taken by the scheduler every minute: the counters in
Redis are totals since they began; the hit rate over time is read from the differences
between consecutive snapshots (caching.snapshots)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models

from execution.models import MONEY, MasterPlan


class CacheSnapshot(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    taken_at = models.DateTimeField(help_text="The minute it was taken, UTC.")
    kind = models.CharField(max_length=32, help_text="The cache: llm_response or retrieval.")
    masterplan = models.ForeignKey(
        MasterPlan,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="cache_snapshots",
        db_index=False,  # the first column of cache_snapshot_once_a_minute_per_plan
        help_text="Empty for the figures of every plan together.",
    )
    hits = models.BigIntegerField(default=0)
    misses = models.BigIntegerField(default=0)
    bytes_stored = models.BigIntegerField(default=0)
    saved_usd = models.DecimalField(**MONEY, default=Decimal(0))

    class Meta:
        ordering = ["taken_at", "kind"]
        constraints = [
            # Two partial constraints, not one: NULLs are distinct in a unique index, so the
            # overall rows (no plan) would not be unique per minute otherwise.
            models.UniqueConstraint(
                fields=["taken_at", "kind"],
                condition=models.Q(masterplan__isnull=True),
                name="cache_snapshot_once_a_minute_overall",
            ),
            models.UniqueConstraint(
                fields=["masterplan", "taken_at", "kind"],
                condition=models.Q(masterplan__isnull=False),
                name="cache_snapshot_once_a_minute_per_plan",
            ),
        ]
        indexes = [models.Index(fields=["taken_at"], name="cache_snapshot_taken_at")]

    def __str__(self) -> str:
        scope = "overall" if self.masterplan_id is None else f"plan {self.masterplan_id}"
        return f"{self.kind} {scope} at {self.taken_at:%Y-%m-%d %H:%M}"
