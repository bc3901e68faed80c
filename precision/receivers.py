"""Score a plan again when its acceptance results change (half of the score is theirs)."""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import receiver

from acceptance.models import TestRun
from acceptance.signals import test_run_finished
from precision.scoring import latest_run, take_snapshot

logger = logging.getLogger(__name__)


@receiver(test_run_finished, sender=TestRun)
def rescore_after_test_run(sender: type[TestRun], run: TestRun, **kwargs: Any) -> None:
    """Only a plan that has been validated is scored: before that, the page says so."""
    validation = latest_run(run.masterplan_id)
    if validation is None:
        return
    try:
        take_snapshot(run.masterplan, run=validation, wave=run.wave)
    except Exception:
        # The test run's results are stored; a score can be taken again (`mge validate`).
        logger.exception("precision snapshot after test run %s failed", run.pk)
