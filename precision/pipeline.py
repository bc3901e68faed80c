"""The precision check the lifecycle asks after each wave: L1–L3 over the files its wave
and the earlier ones wrote, and a snapshot; after the last wave L1–L4, a snapshot, and
the verdict of the plan's `min_precision` option (off unless the document sets it). It
waits for the acceptance check of the same wave, whose results are half of the score."""

from __future__ import annotations

from django.conf import settings

from execution.models import Atom, Wave
from execution.runtime.checks import Check, Verdict
from precision.scoring import TARGET, take_snapshot
from precision.validation import AFTER_WAVE_LEVELS, ALL_LEVELS, validate

CHECK_NAME = "precision"


def after_wave(wave: Wave) -> Verdict:
    masterplan = wave.masterplan
    # The waves' jobs may be ahead of this check (it is not gating): "the last wave" is
    # the last one with atoms, not the last one still open.
    final = not masterplan.waves.filter(number__gt=wave.number, atom_count__gt=0).exists()
    if final:
        run = validate(masterplan, ALL_LEVELS, wave=wave)
    else:
        written = masterplan.atoms.filter(
            wave__number__lte=wave.number, status=Atom.Status.COMPLETED
        ).values_list("file_path", flat=True)
        run = validate(masterplan, AFTER_WAVE_LEVELS, wave=wave, paths=list(written))
    snapshot = take_snapshot(masterplan, run=run, wave=wave)
    described = f"precision {snapshot.score:.1%} (target {TARGET:.0%}; {run.message})"
    minimum = masterplan.options.get("min_precision")
    if final and minimum is not None and snapshot.score < minimum:
        return Verdict(
            False,
            f"The precision score {snapshot.score:.1%} is below the plan's "
            f"min_precision {minimum:.1%}: {run.message}.",
        )
    return Verdict(True, described)


PRECISION_CHECK = Check(
    name=CHECK_NAME,
    decide=after_wave,
    enabled=lambda: bool(settings.MGE_PRECISION_AFTER_WAVES),
    queue="tests",
    timeout_seconds=settings.MGE_PRECISION_BUILD_TIMEOUT_SECONDS * 3 + 120,
    waiting="the precision checks run now and their score decides",
    after=("acceptance",),
)
