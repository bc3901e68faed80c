from __future__ import annotations

import uuid

from django.db import models

from execution.models import MasterPlan


class Requirement(models.Model):
    """A MUST or SHOULD statement of a masterplan; acceptance tests check it."""

    class Priority(models.TextChoices):
        MUST = "must"
        SHOULD = "should"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    masterplan = models.ForeignKey(
        MasterPlan, on_delete=models.CASCADE, related_name="requirements"
    )
    text = models.TextField()
    priority = models.CharField(max_length=10, choices=Priority.choices)
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
