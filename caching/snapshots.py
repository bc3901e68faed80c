"""The caches' counters copied to the database once a minute (the scheduler's job), and the
hit rate over time read back from them.

The counters are totals since Redis began keeping them, so a snapshot holds totals too;
an interval's figures are the difference between two consecutive snapshots. A total that
went down means the counters were reset (Redis flushed or restarted empty, a plan's
counters expired): the interval's figures are then the new totals, counted since the reset.
"""

from __future__ import annotations

import datetime as dt
import uuid
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise
from typing import cast

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from caching import counters
from caching.models import CacheSnapshot
from execution.models import MasterPlan
from mge_site.redis_connection import get_redis

COMBINED = "combined"


def take_snapshots(now: dt.datetime | None = None) -> int:
    """One row per kind overall, and per kind and masterplan whose counters exist, in one
    transaction, stamped with the minute; a second run in the same minute writes nothing.
    Returns the rows offered (the ones already there are skipped)."""
    minute = (now or timezone.now()).astimezone(dt.UTC).replace(second=0, microsecond=0)
    # Not the caches' client: its 50 ms timeout is for a call on its way to the provider,
    # and this job reads every plan's counters in one go.
    client = get_redis()
    scopes: list[tuple[str, str | None, str]] = [
        (kind, None, counters.overall_key(kind)) for kind in counters.KINDS
    ]
    for kind in counters.KINDS:
        prefix = counters.plan_key(kind, "")
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            scopes.append((kind, key.decode().removeprefix(prefix), key.decode()))
    pipe = client.pipeline(transaction=False)
    for _kind, _plan, key in scopes:
        pipe.hgetall(key)
    raw = cast(list[dict[bytes, bytes]], pipe.execute())
    existing = _existing_plans({plan for _kind, plan, _key in scopes if plan is not None})
    rows = [
        _snapshot(minute, kind, plan, {name.decode(): int(value) for name, value in fields.items()})
        for (kind, plan, _key), fields in zip(scopes, raw, strict=True)
        if plan is None or (plan in existing and fields)
    ]
    with transaction.atomic():
        CacheSnapshot.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _existing_plans(candidates: set[str]) -> set[str]:
    """The plans still in the database (a deleted plan's counters live until they expire)."""
    ids = set()
    for candidate in candidates:
        try:
            ids.add(uuid.UUID(candidate))
        except ValueError:
            continue
    return {str(pk) for pk in MasterPlan.objects.filter(pk__in=ids).values_list("pk", flat=True)}


def _snapshot(
    minute: dt.datetime, kind: str, plan: str | None, fields: dict[str, int]
) -> CacheSnapshot:
    return CacheSnapshot(
        taken_at=minute,
        kind=kind,
        masterplan_id=plan,
        hits=fields.get("hits", 0),
        misses=fields.get("misses", 0),
        bytes_stored=fields.get("bytes_stored", 0),
        saved_usd=Decimal(fields.get("saved_micros", 0)) / 1_000_000,
    )


def prune_snapshots(older_than: dt.timedelta) -> int:
    """Delete the snapshots taken before now − older_than; returns how many."""
    deleted, _ = CacheSnapshot.objects.filter(taken_at__lt=timezone.now() - older_than).delete()
    return deleted


# --- the hit rate over time -------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """What a cache did between two snapshots."""

    start: dt.datetime
    end: dt.datetime
    hits: int
    misses: int
    saved_usd: Decimal

    @property
    def requests(self) -> int:
        return self.hits + self.misses

    @property
    def hit_rate(self) -> float | None:
        """None for an interval without a request: no rate, rather than 0 %."""
        return round(self.hits / self.requests, 4) if self.requests else None


def intervals(snapshots: Iterable[CacheSnapshot]) -> list[Interval]:
    """The intervals between consecutive snapshots of one kind and scope, in time order."""
    result = []
    for before, after in pairwise(snapshots):
        hits, misses = after.hits - before.hits, after.misses - before.misses
        saved = after.saved_usd - before.saved_usd
        if hits < 0 or misses < 0:  # reset since the last snapshot: counted from zero
            hits, misses, saved = after.hits, after.misses, after.saved_usd
        result.append(Interval(before.taken_at, after.taken_at, hits, misses, saved))
    return result


def series(masterplan_id: str | None, since: dt.datetime) -> dict[str, list[Interval]]:
    """Every kind's intervals since `since` (overall, or of one plan), and `combined`: the
    kinds' intervals that end at the same snapshot, added up."""
    by_kind: dict[str, list[CacheSnapshot]] = {kind: [] for kind in counters.KINDS}
    scope = Q(masterplan__isnull=True) if masterplan_id is None else Q(masterplan_id=masterplan_id)
    snapshots = CacheSnapshot.objects.filter(
        scope, taken_at__gte=since, kind__in=counters.KINDS
    ).order_by("kind", "taken_at")
    for snapshot in snapshots:
        by_kind[snapshot.kind].append(snapshot)
    if masterplan_id is not None:
        runs = sorted(
            CacheSnapshot.objects.filter(masterplan__isnull=True, taken_at__gte=since)
            .values_list("taken_at", flat=True)
            .distinct()
        )
        by_kind = {kind: from_zero(rows, runs) for kind, rows in by_kind.items()}
    result = {kind: intervals(rows) for kind, rows in by_kind.items()}
    result[COMBINED] = combine(result.values())
    return result


def from_zero(rows: list[CacheSnapshot], runs: list[dt.datetime]) -> list[CacheSnapshot]:
    """A plan's rows, each preceded by zeros at the job's previous run when that run found
    no counters of the plan: they began (or began again, after expiring) since, so what
    they hold was counted in that interval. (The job writes the overall rows at every run.)"""
    present = {row.taken_at for row in rows}
    result = []
    for row in rows:
        previous = bisect_left(runs, row.taken_at) - 1
        if previous >= 0 and runs[previous] not in present:
            zero = CacheSnapshot(taken_at=runs[previous], kind=row.kind, saved_usd=Decimal(0))
            result.append(zero)
        result.append(row)
    return result


def combine(per_kind: Iterable[list[Interval]]) -> list[Interval]:
    totals: dict[dt.datetime, list[Interval]] = defaultdict(list)
    for kind_intervals in per_kind:
        for interval in kind_intervals:
            totals[interval.end].append(interval)
    return [
        Interval(
            start=min(part.start for part in parts),
            end=end,
            hits=sum(part.hits for part in parts),
            misses=sum(part.misses for part in parts),
            saved_usd=sum((part.saved_usd for part in parts), Decimal(0)),
        )
        for end, parts in sorted(totals.items())
    ]
