"""What a reviewer's open page costs the site: the masterplan page's live region, polled
every 2 s while a plan runs, and the list's.

Four generated plans of 1,000 atoms (10 waves of 100), each atom with its ledger row, one
plan running with half its atoms completed and their files written, asked through
Django's test client in this process (PostgreSQL and Redis as in production), 30 times
each. Per answer, the wall time (the database's share included) and this process's CPU.
Baselines in the same run:

- the live region answered in full against the same region answered 304 (the browser
  already holds that version: `If-None-Match`);
- the list's progress counts as one subquery per count (`with_progress`) against the
  COUNT(DISTINCT) over a join of the atoms that it replaced, both on all four plans.

    python benchmarks/pages.py             (make bench runs it)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from _services import (
    BASE_DIR,
    environment_for,
    fresh_database,
    layered_masterplan,
    setup_django,
)

PLANS, WAVES, ATOMS_PER_WAVE, ROUNDS = 4, 10, 100, 30
DATABASE = "mge_bench_pages"
REDIS_URL = "redis://127.0.0.1:6379/8"


def timed(ask: Callable[[], Any]) -> tuple[float, float]:
    """Mean wall and CPU milliseconds of `ask()` over ROUNDS, after one warm-up."""
    ask()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(ROUNDS):
        ask()
    return (
        (time.perf_counter() - wall) * 1000 / ROUNDS,
        (time.process_time() - cpu) * 1000 / ROUNDS,
    )


def main() -> None:
    environment = environment_for(
        DATABASE, REDIS_URL, 1,
        MGE_LLM_PROVIDER="offline",
        MGE_WORKSPACE_ROOT=str(BASE_DIR / "var" / "bench-workspaces"),
        MGE_LOG_LEVEL="WARNING",
    )  # fmt: skip
    fresh_database(DATABASE, environment)
    setup_django(environment)
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db.models import Count, Q
    from django.test import Client

    from budget.models import CostEntry
    from execution.actions import import_masterplan
    from execution.models import Atom, MasterPlan
    from execution.runtime.spend import spent_expression
    from mge_site.redis_connection import get_redis

    get_redis().flushdb()
    call_command("collectstatic", interactive=False, verbosity=0)
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    plans = [
        import_masterplan(layered_masterplan(f"pages-{n}", WAVES, ATOMS_PER_WAVE))
        for n in range(PLANS)
    ]
    for plan in plans:  # every atom paid for once, as a run leaves the ledger
        CostEntry.objects.bulk_create(
            CostEntry(masterplan=plan, atom=atom, model="claude-haiku-4-5",
                      cost_usd=Decimal("0.0012"), reservation_id=f"{atom.pk}")
            for atom in plan.atoms.all()
        )  # fmt: skip
    running = plans[0]
    half = WAVES * ATOMS_PER_WAVE // 2
    done = list(running.atoms.order_by("wave__number", "source_line")[:half])
    for atom in done:
        path = Path(running.workspace_path) / atom.file_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"def {atom.name}():\n    return 1\n")
    Atom.objects.filter(pk__in=[atom.pk for atom in done]).update(
        status=Atom.Status.COMPLETED, execution_time_seconds=1.0
    )
    MasterPlan.objects.filter(pk=running.pk).update(status=MasterPlan.Status.RUNNING)

    client = Client()
    client.force_login(User.objects.create_superuser("pages", password="bench-only-password"))
    url = f"/masterplans/{running.pk}/"
    live = {"HX-Request": "true", "HX-Target": "live"}
    full = client.get(url, headers=live)
    assert full.status_code == 200, full.status_code
    etag = full["ETag"]
    unchanged = client.get(url, headers=live | {"If-None-Match": etag})
    assert unchanged.status_code == 304, unchanged.status_code
    full_wall, full_cpu = timed(lambda: client.get(url, headers=live))
    cached_wall, cached_cpu = timed(lambda: client.get(url, headers=live | {"If-None-Match": etag}))
    list_wall, list_cpu = timed(lambda: client.get("/", headers={"HX-Request": "true"}))

    def joined() -> list[MasterPlan]:
        return list(
            MasterPlan.objects.annotate(
                atom_total=Count("atoms", distinct=True),
                atom_completed=Count("atoms", filter=Q(atoms__status="completed"), distinct=True),
                atom_placeholders=Count("atoms", filter=Q(atoms__placeholder=True), distinct=True),
                cost_total_usd=spent_expression(),
            ).order_by("-created_at")
        )

    def subqueries() -> list[MasterPlan]:
        return list(MasterPlan.objects.with_progress())

    def counts(plans: list[MasterPlan]) -> list[tuple[Any, ...]]:
        return [(p.pk, p.atom_total, p.atom_completed) for p in plans]  # type: ignore[attr-defined]

    assert counts(joined()) == counts(subqueries()), "the two formulations disagree"
    joined_wall, _ = timed(joined)
    subqueries_wall, _ = timed(subqueries)

    print(f"live_region_bytes: {len(full.content)}")
    print(f"live_region_full_ms: {full_wall:.1f}")
    print(f"live_region_full_cpu_ms: {full_cpu:.1f}")
    print(f"live_region_304_ms: {cached_wall:.2f}")
    print(f"live_region_304_cpu_ms: {cached_cpu:.2f}")
    print(f"live_region_304_over_full: {cached_wall / full_wall:.3f}")
    print(f"list_live_ms: {list_wall:.1f}")
    print(f"list_live_cpu_ms: {list_cpu:.1f}")
    print(f"progress_counts_join_ms: {joined_wall:.1f}")
    print(f"progress_counts_subqueries_ms: {subqueries_wall:.2f}")
    print(f"progress_counts_subqueries_over_join: {subqueries_wall / joined_wall:.3f}")


if __name__ == "__main__":
    main()
