"""A reviewer vouches for a template test: read, and found to check enough, it counts."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from acceptance.models import AcceptanceTest


class NotReviewable(Exception):
    """Marking this test reviewed would change nothing or mean nothing (HTTP 409)."""


def mark_reviewed(test_id: str, user: User) -> AcceptanceTest:
    """Raises AcceptanceTest.DoesNotExist for an unknown id."""
    with transaction.atomic():
        test = AcceptanceTest.objects.select_for_update().get(pk=test_id)
        if test.generated_by == AcceptanceTest.GeneratedBy.LLM:
            raise NotReviewable(f"{test.file_path} was written by the LLM: it counts already")
        if test.status == AcceptanceTest.Status.INVALID:
            raise NotReviewable(f"{test.file_path} is invalid: regenerate it first")
        if test.reviewed_at is not None:
            raise NotReviewable(
                f"{test.file_path} was already reviewed by {test.reviewed_by or 'someone'} "
                f"at {test.reviewed_at:%Y-%m-%d %H:%M} UTC"
            )
        test.reviewed_by = user
        test.reviewed_at = timezone.now()
        test.save(update_fields=["reviewed_by", "reviewed_at"])
    return test
