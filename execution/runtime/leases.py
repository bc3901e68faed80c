"""Leases of running atoms: a running atom whose lease lapses (its worker died) goes
back to pending; the job running it renews the lease until it ends."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from execution.models import Atom
from execution.runtime.db_lane import DatabaseLane


def lease_deadline() -> datetime:
    return timezone.now() + timedelta(seconds=settings.MGE_ATOM_LEASE_SECONDS)


class LeaseKeeper:
    """Renews the leases of the atoms this job runs, until the job ends."""

    def __init__(self, db: DatabaseLane) -> None:
        self.db = db
        self.running: set[uuid.UUID] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew_until_stopped, daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def add(self, atom_id: uuid.UUID) -> None:
        with self._lock:
            self.running.add(atom_id)

    def discard(self, atom_id: uuid.UUID) -> None:
        with self._lock:
            self.running.discard(atom_id)

    def _renew_until_stopped(self) -> None:
        interval = settings.MGE_ATOM_LEASE_SECONDS / 3
        while not self._stop.wait(interval):
            with self._lock:
                ids = list(self.running)
            if ids:
                self.db.run(_renew_leases, ids)


def _renew_leases(atom_ids: list[uuid.UUID]) -> None:
    Atom.objects.filter(pk__in=atom_ids, status=Atom.Status.RUNNING).update(
        lease_expires_at=lease_deadline()
    )
