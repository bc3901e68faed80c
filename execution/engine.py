"""Running a masterplan: waves one after another, the atoms of a wave concurrently.

Every state change is a conditional update or happens under a row lock, so a job that
runs twice, two shards of one wave, or a worker killed mid-wave never run a completed
atom again: an atom is claimed (pending → running) by exactly one thread, and a running
atom whose lease lapses (its worker died) goes back to pending for the next job.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone

from execution.concurrency import SAMPLES_KEPT, ConcurrencyLimiter, slot_held
from execution.llm import gateway
from execution.llm.types import CallRefused, LLMError, LLMRequest
from execution.models import Atom, AtomDependency, MasterPlan, Wave
from execution.prompts import SYSTEM_PROMPTS, ContextFile, NoCodeBlock, atom_prompt, extract_code
from execution.ramp_up import RampUp
from execution.signals import wave_finished
from execution.validation import syntax_error
from execution.workspace import WorkspacePathError, resolve_in_workspace

logger = logging.getLogger(__name__)
T = TypeVar("T")


class DatabaseLane:
    """A few threads, each with its own persistent connection, that do a wave job's
    database work.

    A hundred atoms in flight must not hold a hundred PostgreSQL connections (the
    server's default limit) through their LLM calls, and opening a connection per query
    costs more than the query: so atom threads hand their reads and writes to the lane.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.timings_ms: list[float] = []
        self._pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="db-lane")

    def run(self, function: Callable[..., T], *args: Any) -> T:
        started = time.perf_counter()
        try:
            return self._pool.submit(_fresh_connection_call, function, args).result()
        finally:
            # Queue wait included: what an atom waits for the database is the signal.
            self.timings_ms.append((time.perf_counter() - started) * 1000)

    def __enter__(self) -> DatabaseLane:
        return self

    def __exit__(self, *exc: object) -> None:
        # Close every lane thread's connection: each thread takes exactly one of these
        # tasks, since all of them wait at the barrier until every thread holds one.
        barrier = threading.Barrier(self.size)

        def close() -> None:
            barrier.wait(timeout=30)
            connection.close()

        for future in [self._pool.submit(close) for _ in range(self.size)]:
            future.result()
        self._pool.shutdown()
        ConcurrencyLimiter().record_db_ms(self.timings_ms[-SAMPLES_KEPT:])


def _fresh_connection_call(function: Callable[..., T], args: tuple[Any, ...]) -> T:
    close_old_connections()  # drops a connection past its age or broken
    return function(*args)


def lease_deadline() -> timezone.datetime:
    return timezone.now() + timedelta(seconds=settings.MGE_ATOM_LEASE_SECONDS)


# --- a wave job ------------------------------------------------------------------------------


def run_wave(wave_id: str, shard: int = 0, shards: int = 1) -> dict[str, int]:
    """Run this shard's runnable atoms of a wave, then advance the masterplan if the wave is
    done. Returns counts of what this job did."""
    close_old_connections()
    with transaction.atomic():
        wave = (
            Wave.objects.select_for_update(of=("self",))
            .select_related("masterplan")
            .get(pk=wave_id)
        )
        if wave.masterplan.status != MasterPlan.Status.RUNNING:
            return {"ran": 0}
        if wave.status == Wave.Status.PENDING:
            wave.status = Wave.Status.RUNNING
            wave.started_at = timezone.now()
            wave.save(update_fields=["status", "started_at"])
        # Released by a dead worker after its last attempt: nothing may claim it again.
        wave.atoms.filter(
            status__in=Atom.RUNNABLE_STATUSES, attempts__gte=F("max_attempts")
        ).update(
            status=Atom.Status.FAILED,
            last_error="no attempts left: its worker stopped during the last one",
            finished_at=timezone.now(),
        )
    # Slice the wave's whole, stable atom list: slicing only the runnable ones would shift
    # as other shards finish, and leave atoms to no shard.
    wave_atoms = Atom.objects.filter(wave_id=wave_id).order_by("source_line", "pk")
    atom_ids = [
        pk
        for pk, status in list(wave_atoms.values_list("pk", "status"))[shard::shards]
        if status in Atom.RUNNABLE_STATUSES
    ]
    # Everything the atoms need, read in a few queries rather than a few per atom. The
    # masterplan is read once and shared: joined to each atom row, its whole document
    # came along hundreds of times (megabytes per job for a large plan).
    atoms = Atom.objects.defer("generated_code", "last_error").in_bulk(atom_ids)
    for atom in atoms.values():
        atom.masterplan = wave.masterplan
    contexts = _context_files(atom_ids)
    connection.close()
    # Threads for up to twice the shared limit of now (split over the shards), so the job
    # can follow the limit as it grows, without hundreds of threads queueing for slots
    # under a low one. Each waits for its turn in the ramp-up, then for a slot, and claims
    # its atom only then: an atom is running only once it can start, and a pause still
    # stops the rest. The limiter bounds what is in flight across every worker.
    current = ConcurrencyLimiter().limit()
    limit = max(1, math.ceil(current / shards))
    room = min(settings.MGE_CONCURRENCY_MAX, 2 * current)
    threads = max(1, min(len(atom_ids), math.ceil(room / shards)))
    ramp_up = RampUp.from_settings(len(atom_ids), shards)
    outcomes: dict[str, int] = {}
    with (
        DatabaseLane(settings.MGE_DB_CONNECTIONS_PER_JOB) as db,
        _LeaseKeeper(db) as leases,
        ThreadPoolExecutor(max_workers=threads) as pool,
    ):
        # The atoms that get a slot at once: claimed in one statement, so they do not
        # queue behind each other's claims. The rest claim theirs when they get a slot.
        claimed_together = db.run(_claim_atoms, atom_ids[: min(limit, ramp_up.admitted)])
        for atom_id in claimed_together:  # running already: their leases must not lapse
            leases.add(atom_id)

        def admitted_run(index: int, atom_id: object) -> str:
            ramp_up.wait_turn(index)
            try:
                with slot_held():
                    return run_atom(
                        atoms[atom_id], contexts.get(atom_id, []), db, leases,
                        atom_id in claimed_together,
                    )  # fmt: skip
            finally:
                ramp_up.done()

        for outcome in pool.map(admitted_run, range(len(atom_ids)), atom_ids):
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    finish_wave_if_done(wave_id)
    return outcomes


class _LeaseKeeper:
    """Renews the leases of the atoms this job runs, until the job ends."""

    def __init__(self, db: DatabaseLane) -> None:
        self.db = db
        self.running: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew_until_stopped, daemon=True)

    def __enter__(self) -> _LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def add(self, atom_id: str) -> None:
        with self._lock:
            self.running.add(atom_id)

    def discard(self, atom_id: str) -> None:
        with self._lock:
            self.running.discard(atom_id)

    def _renew_until_stopped(self) -> None:
        interval = settings.MGE_ATOM_LEASE_SECONDS / 3
        while not self._stop.wait(interval):
            with self._lock:
                ids = list(self.running)
            if ids:
                self.db.run(_renew_leases, ids)


def _renew_leases(atom_ids: list[str]) -> None:
    Atom.objects.filter(pk__in=atom_ids, status=Atom.Status.RUNNING).update(
        lease_expires_at=lease_deadline()
    )


# --- one atom ----------------------------------------------------------------------------------


def run_atom(
    atom: Atom,
    context: list[ContextFile],
    db: DatabaseLane,
    leases: _LeaseKeeper,
    claimed: bool = False,
) -> str:
    """Claim the atom, write it with the LLM (retrying with feedback), record the outcome."""
    if not claimed and not db.run(_claim_atoms, [atom.pk]):
        return "skipped"
    atom.attempts += 1  # the claim counted the first attempt
    leases.add(atom.pk)
    try:
        return _write_atom(atom, context, db)
    except Exception as error:
        # One atom's surprise must not take its wave job (and the other atoms) down.
        logger.exception("atom %s failed unexpectedly", atom.pk)
        return db.run(
            _finish_atom, atom, Atom.Status.FAILED, None, time.perf_counter(), 0, 0, "",
            f"internal error: {type(error).__name__}: {error}",
        )  # fmt: skip
    finally:
        leases.discard(atom.pk)


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


def _claim_atoms(atom_ids: list[object]) -> set[object]:
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


def _claim_in_one_statement(atom_ids: list[object]) -> set[object]:
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


def _claim_in_a_transaction(atom_ids: list[object]) -> set[object]:
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


def _context_files(atom_ids: list[object]) -> dict[object, list[ContextFile]]:
    """The code of each atom's completed dependencies, which its prompt shows."""
    edges = (
        AtomDependency.objects.filter(atom_id__in=atom_ids, depends_on__status="completed")
        .select_related("depends_on")
        .order_by("depends_on__source_line")
    )
    contexts: dict[object, list[ContextFile]] = {}
    for edge in edges:
        dependency = edge.depends_on
        contexts.setdefault(edge.atom_id, []).append(
            ContextFile(dependency.file_path, dependency.language, dependency.generated_code)
        )
    return contexts


def _count_attempt(atom_id: object, attempts: int) -> None:
    Atom.objects.filter(pk=atom_id, status=Atom.Status.RUNNING).update(attempts=attempts)


def _write_atom(atom: Atom, context: list[ContextFile], db: DatabaseLane) -> str:
    started = time.perf_counter()
    errors: list[str] = []
    input_tokens = output_tokens = 0
    cost = Decimal(0)
    model = atom.model_name
    attempts = atom.attempts  # this attempt included
    while True:
        request = LLMRequest(
            model=model,
            system=SYSTEM_PROMPTS[atom.language],
            messages=[
                {
                    "role": "user",
                    "content": atom_prompt(
                        masterplan_name=atom.masterplan.name,
                        atom_name=atom.name,
                        file_path=atom.file_path,
                        language=atom.language,
                        spec=atom.description,
                        context=context,
                        previous_errors=errors,
                    ),
                }
            ],
            max_tokens=settings.MGE_LLM_MAX_TOKENS,
            masterplan_id=str(atom.masterplan_id),
            atom_id=str(atom.pk),
            wave_id=str(atom.wave_id),
        )
        try:
            response = gateway.complete(request, run_db=db.run)
        except CallRefused:
            # The guard paused the plan (the budget): the atom waits for the resume.
            return db.run(_release_atom, atom.pk, cost)
        except LLMError as error:
            # The SDK has already retried what is worth retrying (429, 529, 5xx).
            errors.append(str(error))
            break
        input_tokens += response.usage.input_tokens
        output_tokens += response.usage.output_tokens
        cost += response.cost_usd or 0
        try:
            code = extract_code(response.text, atom.language)
            problem = syntax_error(atom.language, atom.file_path, code)
        except NoCodeBlock as error:
            problem = str(error)
        else:
            problem = problem and f"{atom.file_path} does not parse: {problem}"
        if problem:
            errors.append(problem)
            if attempts >= atom.max_attempts:
                break
            attempts += 1
            # Counted before the call: an atom whose worker dies mid-call has used it.
            db.run(_count_attempt, atom.pk, attempts)
            continue
        try:
            _write_file(Path(atom.masterplan.workspace_path), atom.file_path, code)
        except WorkspacePathError as error:
            errors.append(f"refused to write {atom.file_path}: {error}")
            break
        return db.run(
            _finish_atom, atom, Atom.Status.COMPLETED, attempts, started,
            input_tokens, output_tokens, code, "", cost,
        )  # fmt: skip
    return db.run(
        _finish_atom, atom, Atom.Status.FAILED, attempts, started, input_tokens, output_tokens,
        "", errors[-1] if errors else "no attempts left", cost,
    )  # fmt: skip


def _release_atom(atom_id: object, cost: Decimal) -> str:
    """Back to pending, the refused attempt not counted: it never reached the provider
    (earlier attempts of this run did, and their cost stays on the atom)."""
    Atom.objects.filter(pk=atom_id, status=Atom.Status.RUNNING).update(
        status=Atom.Status.PENDING,
        cost_usd=F("cost_usd") + cost,
        attempts=F("attempts") - 1,
        started_at=None,
        lease_expires_at=None,
    )
    return "refused"


def _write_file(workspace: Path, relative_path: str, code: str) -> None:
    target = resolve_in_workspace(workspace, relative_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename: a reader (tests, the page) never sees half a file.
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(code if code.endswith("\n") else code + "\n")
    os.replace(temporary, target)


def _finish_atom(
    atom: Atom,
    status: str,
    attempts: int | None,
    started: float,
    input_tokens: int,
    output_tokens: int,
    code: str,
    error: str,
    cost: Decimal = Decimal(0),
) -> str:
    Atom.objects.filter(pk=atom.pk, status=Atom.Status.RUNNING).update(
        status=status,
        cost_usd=F("cost_usd") + cost,
        attempts=F("attempts") if attempts is None else attempts,
        generated_code=code,
        last_error=error,
        input_tokens=F("input_tokens") + input_tokens,
        output_tokens=F("output_tokens") + output_tokens,
        execution_time_seconds=round(time.perf_counter() - started, 3),
        finished_at=timezone.now(),
        lease_expires_at=None,
    )
    return status


# --- after a wave ------------------------------------------------------------------------------


def finish_wave_if_done(wave_id: str) -> None:
    """Close the wave once none of its atoms can still run, then move the plan on."""
    with transaction.atomic():
        wave = Wave.objects.select_for_update().get(pk=wave_id)
        if wave.status in (Wave.Status.COMPLETED, Wave.Status.FAILED):
            return
        counts = dict.fromkeys(Atom.Status.values, 0)
        for status in wave.atoms.values_list("status", flat=True):
            counts[status] += 1
        if any(counts[status] for status in (*Atom.RUNNABLE_STATUSES, Atom.Status.RUNNING)):
            return  # other shards are still at work, or the plan was paused
        wave.completed_count = counts[Atom.Status.COMPLETED]
        wave.failed_count = counts[Atom.Status.FAILED] + counts[Atom.Status.BLOCKED]
        wave.status = Wave.Status.FAILED if wave.failed_count else Wave.Status.COMPLETED
        wave.finished_at = timezone.now()
        wave.save()
        # robust: a receiver that fails (its queue unreachable) must not stop the plan here.
        transaction.on_commit(lambda: wave_finished.send(sender=Wave, wave=wave), robust=True)
        held = gate_decides(wave.masterplan) and wave.masterplan.options.get(
            "enforce_gate_per_wave", False
        )
    if not held:  # else the post-wave tests advance it once the gate passed
        advance_masterplan(wave.masterplan_id)


def gate_decides(masterplan: MasterPlan) -> bool:
    """Acceptance tests run after each wave (`wave_finished`) and their gate decides how
    the plan ends, and with `enforce_gate_per_wave` whether it goes on."""
    return bool(settings.MGE_ACCEPTANCE_AFTER_WAVES)


def advance_masterplan(masterplan_id: object, *, gate_decided: bool = False) -> None:
    """Enqueue the next wave that has work, or close the masterplan when none is left
    (`gate_decided`: the release gate has passed, so a plan whose atoms all completed may
    end as completed)."""
    from execution import control  # the queues sit above the engine

    with transaction.atomic():
        masterplan = MasterPlan.objects.select_for_update().get(pk=masterplan_id)
        if masterplan.status != MasterPlan.Status.RUNNING:
            return
        wave = open_wave(masterplan)
        if wave is None:
            _finish_masterplan(masterplan, gate_decided)
        elif wave.atoms.filter(status__in=Atom.RUNNABLE_STATUSES).exists():
            transaction.on_commit(lambda: control.enqueue_wave(wave))
        # Otherwise its atoms are still running: the job running them advances the plan.


def open_wave(masterplan: MasterPlan) -> Wave | None:
    """The first wave not closed yet, or None when all are.

    On the way it blocks atoms whose dependencies did not complete and closes waves left
    with nothing to do. A wave whose atoms still run is the open one: later waves depend on
    it, so nothing may pass it.
    """
    for wave in masterplan.waves.exclude(
        status__in=[Wave.Status.COMPLETED, Wave.Status.FAILED]
    ).order_by("number"):
        block_dependants_of_failures(wave)
        if wave.atoms.exclude(status__in=Atom.TERMINAL_STATUSES).exists():
            return wave
        _close_empty_wave(wave)
    return None


def block_dependants_of_failures(wave: Wave) -> None:
    """An atom whose dependency failed (or was itself blocked/skipped) cannot run."""
    dead = [Atom.Status.FAILED, Atom.Status.BLOCKED, Atom.Status.SKIPPED]
    edges = AtomDependency.objects.filter(
        atom__wave=wave, atom__status__in=Atom.RUNNABLE_STATUSES, depends_on__status__in=dead
    ).select_related("depends_on")
    blocked: dict[object, list[str]] = {}
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
    wave.completed_count = wave.atoms.filter(status=Atom.Status.COMPLETED).count()
    wave.failed_count = wave.atoms.exclude(status=Atom.Status.COMPLETED).count()
    wave.status = Wave.Status.FAILED if wave.failed_count else Wave.Status.COMPLETED
    wave.finished_at = timezone.now()
    wave.save()


def _finish_masterplan(masterplan: MasterPlan, gate_decided: bool = False) -> None:
    atoms = masterplan.atoms.all()
    failed = list(atoms.filter(status=Atom.Status.FAILED).values_list("name", flat=True))
    blocked = atoms.filter(status=Atom.Status.BLOCKED).count()
    if failed or blocked:
        masterplan.status = MasterPlan.Status.FAILED
        named = ", ".join(failed[:5]) + (" …" if len(failed) > 5 else "")
        masterplan.status_reason = (
            f"{len(failed)} atom{'s' * (len(failed) != 1)} failed ({named}); "
            f"{blocked} blocked by them. Nothing runnable is left."
        )
    elif gate_decides(masterplan) and not gate_decided:
        masterplan.status_reason = (
            "Every atom completed; the acceptance tests run now and their gate decides the release."
        )
        masterplan.save(update_fields=["status_reason", "updated_at"])
        return
    else:
        masterplan.status = MasterPlan.Status.COMPLETED
        masterplan.status_reason = ""
    masterplan.finished_at = timezone.now()
    masterplan.save(update_fields=["status", "status_reason", "finished_at", "updated_at"])


# --- leases ------------------------------------------------------------------------------------


def release_stale_atoms(masterplan_id: object | None = None) -> list[object]:
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
        Atom.objects.filter(pk__in=[pk for pk, _ in ids], status=Atom.Status.RUNNING).update(
            status=Atom.Status.PENDING, lease_expires_at=None
        )
    if ids:
        logger.warning("released %d atoms whose worker stopped renewing their lease", len(ids))
    return sorted({plan for _, plan in ids}, key=str)
