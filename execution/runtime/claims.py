"""Claiming atoms: the guard against running an atom twice."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from execution.models import Atom, MasterPlan
from execution.runtime.leases import lease_deadline

_ATOMS, _PLANS = Atom._meta.db_table, MasterPlan._meta.db_table
_CLAIM = f"""
WITH claimable AS (
    SELECT atom.id FROM {_ATOMS} atom JOIN {_PLANS} plan ON plan.id = atom.masterplan_id
    WHERE atom.id = ANY(%(ids)s) AND atom.status = ANY(%(runnable)s)
      AND atom.attempts < atom.max_attempts AND plan.status = %(running)s
    FOR UPDATE OF atom SKIP LOCKED
)
UPDATE {_ATOMS} SET status = %(claimed)s, attempts = attempts + 1, started_at = %(now)s,
                    lease_expires_at = %(lease)s, last_error = ''
FROM claimable WHERE {_ATOMS}.id = claimable.id
RETURNING {_ATOMS}.id
"""


def claim_atoms(atom_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Turn these atoms from pending into running, as far as they still may run; returns
    the ones this call claimed.

    The claim is the guard against running an atom twice: only one caller turns pending
    into running (rows another job is claiming are skipped, not waited for), and none
    does once the masterplan is paused or cancelled. It counts the first attempt: an atom
    whose worker dies mid-call has used it, so a crash cannot replay an atom forever.
    On PostgreSQL one statement locks, checks and updates, where the ORM needs a
    transaction of four round trips: every atom is claimed on its own as it gets its slot.
    """
    if not atom_ids:
        return set()
    if connection.vendor == "postgresql":
        return _claim_in_one_statement(atom_ids)
    return _claim_in_a_transaction(atom_ids)


def _claim_in_one_statement(atom_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    with connection.cursor() as cursor:
        cursor.execute(
            _CLAIM,
            {
                "ids": list(atom_ids),
                "runnable": list(Atom.RUNNABLE_STATUSES),
                "running": MasterPlan.Status.RUNNING,
                "claimed": Atom.Status.RUNNING,
                "now": timezone.now(),
                "lease": lease_deadline(),
            },
        )
        return {row[0] for row in cursor.fetchall()}


def _claim_in_a_transaction(atom_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """The same claim for SQLite (`make run` without DATABASE_URL), which writes one
    transaction at a time and has neither row locks nor ANY()."""
    with transaction.atomic():
        claimable = list(
            Atom.objects.filter(
                pk__in=atom_ids,
                status__in=Atom.RUNNABLE_STATUSES,
                masterplan__status=MasterPlan.Status.RUNNING,
                attempts__lt=F("max_attempts"),
            )
            .order_by()
            .select_for_update(of=("self",), skip_locked=True)
            .values_list("pk", flat=True)
        )
        Atom.objects.filter(pk__in=claimable).update(
            status=Atom.Status.RUNNING,
            attempts=F("attempts") + 1,
            started_at=timezone.now(),
            lease_expires_at=lease_deadline(),
            last_error="",
        )
    return set(claimable)
