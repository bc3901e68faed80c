"""The correlation dashboard's data, for one masterplan or across all of them: retries by
complexity, the cache hit rate over time, L1 and acceptance pass rates by atom type, and
the executions of each wave on a time line.

Every figure comes from a constant number of grouped queries, whatever the number of
atoms, executions and events; the events' JSON is read by key in the database, so the
prompts and answers the `llm_call` events carry are never loaded.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Max, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Trunc

from acceptance.imports import imported_files
from acceptance.models import AcceptanceTest, TestResult
from execution.models import Atom, AtomDependency, MasterPlan
from tracing.models import AtomExecutionTrace, TraceEvent

COMPLEXITIES: list[str] = list(Atom.Complexity.values)
"""The scatter's x: the position of an atom's complexity in this order (low = 0)."""

BUCKETS: list[tuple[str, int]] = [("second", 1), ("minute", 60), ("hour", 3600), ("day", 86400)]
MAX_BUCKETS = 120
"""The hit rate's time bucket: the finest of these that cuts the span into at most
MAX_BUCKETS buckets (a short run per second, a day's work per hour)."""

ANSWERED = Q(kind="llm_call", data__has_key="cache_hit")
"""An LLM call that got an answer, from the provider or the cache (a failed call has
an `error` instead): the hit rate's denominator."""


# --- the four panels ------------------------------------------------------------------


@dataclass(frozen=True)
class ScatterPoint:
    masterplan: uuid.UUID
    atom: uuid.UUID
    atom_name: str
    execution: int
    complexity: str
    x: int
    retries: int


@dataclass(frozen=True)
class ScatterCount:
    complexity: str
    x: int
    retries: int
    executions: int


@dataclass(frozen=True)
class ComplexityRetries:
    complexity: str
    x: int
    executions: int
    mean_retries: float | None


@dataclass(frozen=True)
class Scatter:
    points: list[ScatterPoint]
    counts: list[ScatterCount]
    by_complexity: list[ComplexityRetries]
    pearson_r: float | None
    """Between the complexity's position and the retries; None under two distinct values."""


@dataclass(frozen=True)
class HitRateBucket:
    start: dt.datetime
    calls: int
    hits: int
    rate: float
    cumulative_calls: int
    cumulative_hits: int
    cumulative_rate: float


@dataclass(frozen=True)
class HitRate:
    bucket: str | None
    bucket_seconds: int | None
    buckets: list[HitRateBucket]
    calls: int
    hits: int
    rate: float | None


@dataclass(frozen=True)
class HeatCell:
    language: str
    task: str
    atoms: int
    executions: int
    validations: int
    validations_passed: int
    l1_pass_rate: float | None
    answered_executions: int
    first_try_passed: int
    first_try_rate: float | None
    acceptance_atoms: int
    acceptance_passed: int
    acceptance_rate: float | None


@dataclass(frozen=True)
class Heatmap:
    languages: list[str]
    tasks: list[str]
    cells: list[HeatCell]


@dataclass(frozen=True)
class TimelineExecution:
    masterplan: uuid.UUID
    atom: uuid.UUID
    atom_name: str
    execution: int
    status: str
    start_s: float
    end_s: float | None
    """None while it runs."""


@dataclass(frozen=True)
class WaveTimeline:
    wave: int | None
    start_s: float
    end_s: float | None
    executions: list[TimelineExecution]
    events: dict[str, int]


@dataclass(frozen=True)
class Correlation:
    masterplan: uuid.UUID | None
    scatter: Scatter
    hit_rate: HitRate
    heatmap: Heatmap
    timeline: list[WaveTimeline]


def correlation(masterplan: MasterPlan | None = None) -> Correlation:
    """The four panels of one plan, or of every plan (None)."""
    traces = _trace_rows(masterplan)
    atoms = _atom_rows(masterplan)
    return Correlation(
        masterplan=masterplan.pk if masterplan else None,
        scatter=scatter(traces),
        hit_rate=hit_rate(masterplan),
        heatmap=heatmap(atoms, traces, _acceptance_verdicts(masterplan, atoms)),
        timeline=timeline(traces, _event_counts(masterplan)),
    )


# --- the rows they are computed from (one query each) -----------------------------------


def _in_scope(rows: QuerySet[Any], masterplan: MasterPlan | None, field: str) -> QuerySet[Any]:
    return rows if masterplan is None else rows.filter(**{field: masterplan})


_TRACE_FIELDS = (
    "masterplan_id", "atom_id", "atom__name", "atom__language", "atom__complexity",
    "atom__task__name", "execution", "status", "total_retries", "started_at", "finished_at",
    "wave_number", "validations", "validations_passed", "answers", "answer_retries",
)  # fmt: skip


def _trace_rows(masterplan: MasterPlan | None) -> list[dict[str, Any]]:
    """One row per atom execution with its atom's type and its answers' outcomes."""
    rows = (
        _in_scope(AtomExecutionTrace.objects.all(), masterplan, "masterplan")
        .filter(scope=AtomExecutionTrace.Scope.ATOM)
        .annotate(
            wave_number=Coalesce("wave__number", "atom__wave__number"),
            validations=Count("events", filter=Q(events__kind="validation")),
            validations_passed=Count(
                "events", filter=Q(events__kind="validation", events__data__passed=True)
            ),
            answers=Count(
                "events", filter=Q(events__kind="llm_call", events__data__has_key="cache_hit")
            ),
            answer_retries=Count("events", filter=Q(events__kind="retry")),
        )
        .values(*_TRACE_FIELDS)
        .order_by("started_at", "execution")
    )
    return list(rows)


def _atom_rows(masterplan: MasterPlan | None) -> list[dict[str, Any]]:
    in_plan_order = (
        "masterplan_id", "task__milestone__phase__position", "task__milestone__position",
        "task__position", "position",
    )  # fmt: skip
    atoms = _in_scope(Atom.objects.all(), masterplan, "masterplan")
    return list(
        atoms.values("pk", "masterplan_id", "file_path", "language", "task__name").order_by(
            *in_plan_order
        )
    )


def _event_counts(masterplan: MasterPlan | None) -> list[dict[str, Any]]:
    """Events by wave and kind (the atoms' executions only)."""
    events = _in_scope(TraceEvent.objects.all(), masterplan, "trace__masterplan")
    return list(
        events.filter(trace__scope=AtomExecutionTrace.Scope.ATOM)
        .values("kind", wave_number=Coalesce("trace__wave__number", "trace__atom__wave__number"))
        .annotate(events=Count("pk"))
        .order_by()
    )


def _acceptance_verdicts(
    masterplan: MasterPlan | None, atoms: list[dict[str, Any]]
) -> dict[uuid.UUID, bool]:
    """Atom id → whether every acceptance test that runs its code passed its latest run.

    An acceptance test checks a requirement, not an atom. It runs the atoms whose files it
    imports (`acceptance.imports`, the rule the per-wave gate uses to decide when a test
    is due) and, through their imports, the atoms those depend on (declared or found in
    the code), transitively. Atoms that no test runs, or whose tests never ran, have no
    verdict."""
    latest = TestResult.objects.filter(test=OuterRef("pk")).order_by(*TestResult.LATEST_FIRST)
    tests = (
        _in_scope(AcceptanceTest.objects.all(), masterplan, "masterplan")
        .annotate(latest_status=Subquery(latest.values("status")[:1]))
        .filter(latest_status__isnull=False)
        .values("masterplan_id", "code", "framework", "file_path", "latest_status")
    )
    atom_by_file: dict[Any, dict[str, uuid.UUID]] = defaultdict(dict)
    for atom in atoms:
        atom_by_file[atom["masterplan_id"]][atom["file_path"]] = atom["pk"]
    needs = _dependencies(masterplan)
    verdicts: dict[uuid.UUID, bool] = {}
    for test in tests:
        files = atom_by_file[test["masterplan_id"]]
        passed = test["latest_status"] == TestResult.Status.PASSED
        imported = imported_files(test["code"], test["framework"], test["file_path"], files)
        for atom_id in _reached({files[path] for path in imported}, needs):
            verdicts[atom_id] = verdicts.get(atom_id, True) and passed
    return verdicts


def _dependencies(masterplan: MasterPlan | None) -> dict[uuid.UUID, list[uuid.UUID]]:
    edges = _in_scope(AtomDependency.objects.all(), masterplan, "masterplan")
    needs: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for atom_id, depends_on_id in edges.values_list("atom_id", "depends_on_id"):
        needs[atom_id].append(depends_on_id)
    return needs


def _reached(start: set[uuid.UUID], needs: dict[uuid.UUID, list[uuid.UUID]]) -> set[uuid.UUID]:
    reached, frontier = set(start), list(start)
    while frontier:
        for depends_on in needs.get(frontier.pop(), []):
            if depends_on not in reached:
                reached.add(depends_on)
                frontier.append(depends_on)
    return reached


# --- the panels -------------------------------------------------------------------------


def scatter(traces: list[dict[str, Any]]) -> Scatter:
    points = [
        ScatterPoint(
            masterplan=row["masterplan_id"],
            atom=row["atom_id"],
            atom_name=row["atom__name"],
            execution=row["execution"],
            complexity=row["atom__complexity"],
            x=COMPLEXITIES.index(row["atom__complexity"]),
            retries=row["total_retries"],
        )
        for row in traces
    ]
    tally: dict[tuple[int, int], int] = defaultdict(int)
    for point in points:
        tally[point.x, point.retries] += 1
    counts = [
        ScatterCount(COMPLEXITIES[x], x, retries, executions)
        for (x, retries), executions in sorted(tally.items())
    ]
    by_complexity = []
    for x, complexity in enumerate(COMPLEXITIES):
        retries = [point.retries for point in points if point.x == x]
        mean = sum(retries) / len(retries) if retries else None
        by_complexity.append(ComplexityRetries(complexity, x, len(retries), mean))
    return Scatter(points, counts, by_complexity, pearson([(p.x, p.retries) for p in points]))


def pearson(pairs: list[tuple[int, int]]) -> float | None:
    if len(pairs) < 2:
        return None
    mean_x = sum(x for x, _ in pairs) / len(pairs)
    mean_y = sum(y for _, y in pairs) / len(pairs)
    covariance = sum((x - mean_x) * (y - mean_y) for x, y in pairs)
    spread_x = sum((x - mean_x) ** 2 for x, _ in pairs)
    spread_y = sum((y - mean_y) ** 2 for _, y in pairs)
    if not spread_x or not spread_y:
        return None
    # Clamped: rounding can carry a perfect correlation a hair past ±1.
    return max(-1.0, min(1.0, covariance / math.sqrt(spread_x * spread_y)))


def hit_rate(masterplan: MasterPlan | None) -> HitRate:
    """Answered LLM calls of every traced execution (atoms and acceptance tests' generation:
    they share the cache) per time bucket, and the rate since the first call."""
    calls = _in_scope(TraceEvent.objects.filter(ANSWERED), masterplan, "trace__masterplan")
    span = calls.aggregate(first=Min("at"), last=Max("at"))
    if span["first"] is None:
        return HitRate(None, None, [], 0, 0, None)
    bucket, seconds = bucket_for((span["last"] - span["first"]).total_seconds())
    rows = (
        calls.annotate(bucket=Trunc("at", bucket, tzinfo=dt.UTC))
        .values("bucket")
        .annotate(calls=Count("pk"), hits=Count("pk", filter=Q(data__cache_hit=True)))
        .order_by("bucket")
    )
    buckets: list[HitRateBucket] = []
    total_calls = total_hits = 0
    for row in rows:
        total_calls += row["calls"]
        total_hits += row["hits"]
        buckets.append(
            HitRateBucket(
                start=row["bucket"],
                calls=row["calls"],
                hits=row["hits"],
                rate=row["hits"] / row["calls"],
                cumulative_calls=total_calls,
                cumulative_hits=total_hits,
                cumulative_rate=total_hits / total_calls,
            )
        )
    return HitRate(bucket, seconds, buckets, total_calls, total_hits, total_hits / total_calls)


def bucket_for(span_seconds: float) -> tuple[str, int]:
    for name, seconds in BUCKETS:
        if span_seconds / seconds < MAX_BUCKETS:
            return name, seconds
    return BUCKETS[-1]


def heatmap(
    atoms: list[dict[str, Any]], traces: list[dict[str, Any]], verdicts: dict[uuid.UUID, bool]
) -> Heatmap:
    """Rows: languages; columns: tasks (by name, so across plans a task name is a column).

    - L1 pass rate: passed L1 validations over all L1 validations of the cell's executions
      (each answer that parsed is validated once);
    - first-try rate: executions whose first answer passed L1 (no retry) over executions
      that got an answer;
    - acceptance rate: atoms whose acceptance tests all passed their latest run over atoms
      that a test which has run runs: imports, or reaches through the atoms' dependencies
      (`_acceptance_verdicts`)."""
    languages = _in_order(atom["language"] for atom in atoms)
    tasks = _in_order(atom["task__name"] for atom in atoms)
    tally = _tally(atoms, traces, verdicts)
    cells = [
        _heat_cell(language, task, tally[language, task])
        for language in languages
        for task in tasks
        if (language, task) in tally
    ]
    return Heatmap(languages, tasks, cells)


def _tally(
    atoms: list[dict[str, Any]], traces: list[dict[str, Any]], verdicts: dict[uuid.UUID, bool]
) -> dict[tuple[str, str], dict[str, int]]:
    sums: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for atom in atoms:
        cell = sums[atom["language"], atom["task__name"]]
        cell["atoms"] += 1
        if atom["pk"] in verdicts:
            cell["acceptance_atoms"] += 1
            cell["acceptance_passed"] += verdicts[atom["pk"]]
    for row in traces:
        cell = sums[row["atom__language"], row["atom__task__name"]]
        cell["executions"] += 1
        cell["validations"] += row["validations"]
        cell["validations_passed"] += row["validations_passed"]
        if row["answers"]:
            cell["answered_executions"] += 1
            first_answer_passed = row["validations_passed"] and not row["answer_retries"]
            cell["first_try_passed"] += bool(first_answer_passed)
    return sums


def _heat_cell(language: str, task: str, cell: dict[str, int]) -> HeatCell:
    return HeatCell(
        language=language, task=task, atoms=cell["atoms"], executions=cell["executions"],
        validations=cell["validations"], validations_passed=cell["validations_passed"],
        l1_pass_rate=_share(cell["validations_passed"], cell["validations"]),
        answered_executions=cell["answered_executions"],
        first_try_passed=cell["first_try_passed"],
        first_try_rate=_share(cell["first_try_passed"], cell["answered_executions"]),
        acceptance_atoms=cell["acceptance_atoms"], acceptance_passed=cell["acceptance_passed"],
        acceptance_rate=_share(cell["acceptance_passed"], cell["acceptance_atoms"]),
    )  # fmt: skip


def timeline(
    traces: list[dict[str, Any]], event_counts: list[dict[str, Any]]
) -> list[WaveTimeline]:
    """Each wave's executions as seconds since their plan's first execution started (across
    plans, every plan from its own start: wave n of each plan on one line)."""
    origins: dict[Any, dt.datetime] = {}
    for row in traces:
        origins.setdefault(row["masterplan_id"], row["started_at"])  # rows are by start time
    by_wave: dict[int | None, list[TimelineExecution]] = defaultdict(list)
    for row in traces:
        origin = origins[row["masterplan_id"]]
        by_wave[row["wave_number"]].append(
            TimelineExecution(
                masterplan=row["masterplan_id"],
                atom=row["atom_id"],
                atom_name=row["atom__name"],
                execution=row["execution"],
                status=row["status"],
                start_s=(row["started_at"] - origin).total_seconds(),
                end_s=(row["finished_at"] - origin).total_seconds() if row["finished_at"] else None,
            )
        )
    kinds: dict[int | None, dict[str, int]] = defaultdict(dict)
    for row in event_counts:
        kinds[row["wave_number"]][row["kind"]] = row["events"]
    waves = []
    for wave in sorted(by_wave, key=lambda number: (number is None, number or 0)):
        executions = by_wave[wave]
        ends = [execution.end_s for execution in executions if execution.end_s is not None]
        waves.append(
            WaveTimeline(
                wave=wave,
                start_s=min(execution.start_s for execution in executions),
                end_s=max(ends) if ends else None,
                executions=executions,
                events=dict(sorted(kinds[wave].items())),
            )
        )
    return waves


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _in_order(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))
