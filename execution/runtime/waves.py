"""The state of a masterplan's waves: which one is open, closing one, blocking the
dependants of failed atoms, and giving a dead worker's atoms back."""

from __future__ import annotations

import logging
import uuid

from django.db import transaction
from django.utils import timezone

from execution.models import Atom, AtomDependency, MasterPlan, Wave
from execution.signals import atoms_abandoned, send_on_commit, wave_finished

logger = logging.getLogger(__name__)

CLOSED = (Wave.Status.COMPLETED, Wave.Status.FAILED)


def open_wave(masterplan: MasterPlan) -> Wave | None:
    """The first wave not closed yet, or None when all are.

    On the way it blocks atoms whose dependencies did not complete and closes waves left
    with nothing to do. A wave whose atoms still run is the open one: later waves depend on
    it, so nothing may pass it.
    """
    for wave in masterplan.waves.exclude(status__in=CLOSED).order_by("number"):
        block_dependants_of_failures(wave)
        if wave.atoms.exclude(status__in=Atom.TERMINAL_STATUSES).exists():
            return wave
        _close_empty_wave(wave)
    return None


def last_closed_wave(masterplan: MasterPlan) -> Wave | None:
    return masterplan.waves.filter(status__in=CLOSED).order_by("-number").first()


def close_wave_if_done(wave_id: uuid.UUID | str) -> Wave | None:
    """Close the wave once none of its atoms can still run (under its row lock: the last
    of several shards closes it); returns it if this call closed it. Call in a transaction.

    The wave's row only, and FOR NO KEY UPDATE: the ledger rows the other shards' atoms
    insert meanwhile take a key-share lock on the wave and on the plan, and a lock of both
    here, in the other order, deadlocked them."""
    wave = (
        Wave.objects.select_for_update(of=("self",), no_key=True)
        .select_related("masterplan")
        .get(pk=wave_id)
    )
    if wave.status in CLOSED:
        return None
    counts = dict.fromkeys(Atom.Status.values, 0)
    for status in wave.atoms.values_list("status", flat=True):
        counts[status] += 1
    if any(counts[status] for status in (*Atom.RUNNABLE_STATUSES, Atom.Status.RUNNING)):
        return None  # other shards are still at work, or the plan was paused
    _close(
        wave,
        counts[Atom.Status.COMPLETED],
        counts[Atom.Status.FAILED] + counts[Atom.Status.BLOCKED],
    )
    return wave


def block_dependants_of_failures(wave: Wave) -> None:
    """An atom whose dependency failed (or was itself blocked/skipped) cannot run."""
    dead = [Atom.Status.FAILED, Atom.Status.BLOCKED, Atom.Status.SKIPPED]
    edges = AtomDependency.objects.filter(
        atom__wave=wave, atom__status__in=Atom.RUNNABLE_STATUSES, depends_on__status__in=dead
    ).select_related("depends_on")
    blocked: dict[uuid.UUID, list[str]] = {}
    for edge in edges:
        blocked.setdefault(edge.atom_id, []).append(edge.depends_on.name)
    for atom_id, causes in blocked.items():
        Atom.objects.filter(pk=atom_id, status__in=Atom.RUNNABLE_STATUSES).update(
            status=Atom.Status.BLOCKED,
            last_error="blocked: depends on "
            + ", ".join(sorted(causes))
            + ", which did not complete",
            finished_at=timezone.now(),
        )


def _close_empty_wave(wave: Wave) -> None:
    completed = wave.atoms.filter(status=Atom.Status.COMPLETED).count()
    _close(wave, completed, wave.atoms.exclude(status=Atom.Status.COMPLETED).count())


def _close(wave: Wave, completed: int, failed: int) -> None:
    """Every wave closes here (its last shard's job, or on the way to the open one): the
    listeners of `wave_finished` hear of each once it has committed."""
    wave.completed_count, wave.failed_count = completed, failed
    wave.status = Wave.Status.FAILED if failed else Wave.Status.COMPLETED
    wave.finished_at = timezone.now()
    wave.save()
    send_on_commit(wave_finished, Wave, wave_id=wave.pk)


def release_stale_atoms(masterplan_id: uuid.UUID | str | None = None) -> list[uuid.UUID]:
    """Return running atoms whose lease lapsed (their worker died) to pending.

    Returns the ids of the masterplans that had any, so their waves can be enqueued again.
    """
    stale = Atom.objects.filter(status=Atom.Status.RUNNING, lease_expires_at__lt=timezone.now())
    if masterplan_id is not None:
        stale = stale.filter(masterplan_id=masterplan_id)
    with transaction.atomic():
        # No ordering: Atom's default one joins the nullable wave, and PostgreSQL cannot
        # lock the nullable side of an outer join.
        ids = list(stale.order_by().select_for_update().values_list("pk", "masterplan_id"))
        by_plan: dict[uuid.UUID, list[str]] = {}
        for pk, plan in ids:
            by_plan.setdefault(plan, []).append(str(pk))
        for plan, atom_ids in by_plan.items():
            atoms_abandoned.send(sender=Atom, masterplan_id=plan, atom_ids=atom_ids)
        Atom.objects.filter(pk__in=[pk for pk, _ in ids], status=Atom.Status.RUNNING).update(
            status=Atom.Status.PENDING, lease_expires_at=None
        )
    if ids:
        logger.warning("released %d atoms whose worker stopped renewing their lease", len(ids))
    return sorted({plan for _, plan in ids}, key=str)
