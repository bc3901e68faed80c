"""The scheduler's snapshots of the cache counters, and the hit rate over time read from
them, on real Redis and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from caching import counters
from caching.models import CacheSnapshot
from caching.snapshots import Interval, combine, intervals, prune_snapshots, series, take_snapshots
from caching.tasks import snapshot_cache_stats
from mge_site.redis_connection import get_redis

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 12, 1, 12, 0, 30, tzinfo=dt.UTC)


def minutes(n: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=n)


@pytest.fixture
def plan_id(imported) -> str:  # type: ignore[no-untyped-def]
    return str(imported("slugkit").pk)


def test_the_job_writes_a_row_per_kind_overall_and_per_plan_whose_counters_exist(plan_id):
    counters.count("llm_response", plan_id, hits=3, misses=1, saved_micros=1_500_000)
    counters.count("llm_response", plan_id, bytes_stored=2048)
    counters.count("retrieval", None, hits=2)
    written = snapshot_cache_stats()
    assert written == 3  # two kinds overall, the plan's llm_response; no plan row for retrieval
    rows = {(row.kind, row.masterplan_id and str(row.masterplan_id)): row
            for row in CacheSnapshot.objects.all()}  # fmt: skip
    assert set(rows) == {("llm_response", None), ("retrieval", None), ("llm_response", plan_id)}
    mine = rows[("llm_response", plan_id)]
    assert (mine.hits, mine.misses, mine.bytes_stored) == (3, 1, 2048)
    assert mine.saved_usd == Decimal("1.5")
    assert (rows[("retrieval", None)].hits, rows[("retrieval", None)].misses) == (2, 0)
    assert mine.taken_at.tzinfo is not None and mine.taken_at.utcoffset() == dt.timedelta(0)
    assert (mine.taken_at.second, mine.taken_at.microsecond) == (0, 0)


def test_a_second_run_in_the_same_minute_writes_nothing(plan_id):
    counters.count("llm_response", plan_id, hits=1)
    take_snapshots(T0)
    counters.count("llm_response", plan_id, hits=5)
    take_snapshots(T0 + dt.timedelta(seconds=20))
    assert CacheSnapshot.objects.count() == 3
    assert CacheSnapshot.objects.get(kind="llm_response", masterplan=None).hits == 1
    take_snapshots(minutes(1))
    assert CacheSnapshot.objects.count() == 6


def test_counters_of_a_plan_no_longer_in_the_database_are_skipped():
    counters.count("llm_response", str(uuid.uuid4()), hits=1)
    counters.count("llm_response", "not-a-uuid", hits=1)
    take_snapshots(T0)
    assert not CacheSnapshot.objects.filter(masterplan__isnull=False).exists()
    assert CacheSnapshot.objects.get(kind="llm_response", masterplan=None).hits == 2


def test_the_hit_rate_over_time_comes_from_the_differences_between_snapshots(plan_id):
    counters.count("llm_response", plan_id, hits=10, misses=10)
    take_snapshots(minutes(0))
    counters.count("llm_response", plan_id, hits=3, misses=1, saved_micros=300_000)
    counters.count("retrieval", plan_id, hits=1, misses=3)
    take_snapshots(minutes(1))
    take_snapshots(minutes(2))  # nothing asked in this minute
    overall = series(None, minutes(-5))
    first, idle = overall["llm_response"]
    assert (first.start, first.end) == (minutes(0).replace(second=0), minutes(1).replace(second=0))
    assert (first.hits, first.misses, first.hit_rate) == (3, 1, 0.75)
    assert first.saved_usd == Decimal("0.3")
    assert (idle.hits, idle.misses, idle.hit_rate) == (0, 0, None)
    assert [(i.hits, i.misses) for i in overall["retrieval"]] == [(1, 3), (0, 0)]
    combined = overall["combined"][0]
    assert (combined.hits, combined.misses, combined.hit_rate) == (4, 4, 0.5)
    # The plan's retrieval counters began after the job's run at minute 0 found none: what
    # they held at minute 1 was counted in that interval.
    plan = series(plan_id, minutes(-5))
    assert [(i.end.minute, i.hits, i.misses) for i in plan["retrieval"]] == [(1, 1, 3), (2, 0, 0)]
    assert [(i.hits, i.misses) for i in plan["llm_response"]] == [(3, 1), (0, 0)]


def test_a_counter_reset_counts_the_new_totals_as_the_interval(plan_id):
    counters.count("llm_response", None, hits=50, misses=50)
    take_snapshots(minutes(0))
    get_redis().flushdb()  # Redis lost its counters
    counters.count("llm_response", None, hits=2, misses=1)
    take_snapshots(minutes(1))
    (interval,) = series(None, minutes(-5))["llm_response"]
    assert (interval.hits, interval.misses) == (2, 1)


def test_intervals_and_combine_by_hand():
    def row(minute: int, hits: int, misses: int, saved: str) -> CacheSnapshot:
        return CacheSnapshot(taken_at=minutes(minute), kind="retrieval", hits=hits,
                             misses=misses, saved_usd=Decimal(saved))  # fmt: skip

    rows = [row(0, 5, 5, "1"), row(1, 9, 6, "1.5"), row(2, 1, 0, "0.1")]
    assert intervals(rows) == [
        Interval(minutes(0), minutes(1), 4, 1, Decimal("0.5")),
        Interval(minutes(1), minutes(2), 1, 0, Decimal("0.1")),  # reset
    ]
    other = [Interval(minutes(0), minutes(1), 0, 3, Decimal(0))]
    total = combine([intervals(rows), other])
    assert [(i.end, i.hits, i.misses) for i in total] == [(minutes(1), 4, 4), (minutes(2), 1, 0)]


def test_snapshots_older_than_the_retention_are_pruned(settings):
    settings.MGE_TRACE_RETENTION_DAYS = 30
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=31)
    take_snapshots(old)
    take_snapshots(dt.datetime.now(dt.UTC) - dt.timedelta(days=29))
    assert CacheSnapshot.objects.count() == 4
    snapshot_cache_stats()
    assert CacheSnapshot.objects.filter(taken_at__lt=old + dt.timedelta(days=1)).count() == 0
    assert CacheSnapshot.objects.count() == 4  # the recent two and this minute's two
    assert prune_snapshots(dt.timedelta(0)) == 4


def test_the_scheduler_takes_a_snapshot_every_minute():
    from rq.cron import CronScheduler

    scheduler = CronScheduler(connection=get_redis())
    scheduler.load_config_from_file("mge_site.cron")
    intervals = {job.func: job.interval for job in scheduler.get_jobs()}
    assert intervals[snapshot_cache_stats] == 60
