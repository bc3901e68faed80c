"""Running a wave job: the atoms of a wave concurrently, each written by the LLM.

Every state change is a conditional update or happens under a row lock, so a job that
runs twice, two shards of one wave, or a worker killed mid-wave never run a completed
atom again: an atom is claimed (pending → running) by exactly one thread
(execution.runtime.claims), and a running atom whose lease lapses (its worker died) goes back
to pending for the next job (execution.runtime.leases). What happens after the wave is the
lifecycle's (execution.runtime.lifecycle.wave_done).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import tempfile
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import F, TextField, Value
from django.db.models.functions import Coalesce, Concat, NullIf
from django.utils import timezone

from execution import events
from execution.context.build import AtomContext, build_contexts
from execution.llm.generation import Generated, generate_code, passes_l1
from execution.llm.prompts import (
    ATOM_PROMPT_VERSION,
    SYSTEM_PROMPTS,
    atom_prompt,
)
from execution.llm.types import CallRefused, LLMRequest
from execution.models import Atom, MasterPlan, Wave
from execution.runtime import lifecycle
from execution.runtime.claims import claim_atoms
from execution.runtime.concurrency import ConcurrencyLimiter, slot_held
from execution.runtime.db_lane import DatabaseLane
from execution.runtime.leases import LeaseKeeper
from execution.runtime.ramp_up import RampUp
from execution.runtime.workspace import WorkspacePathError, resolve_in_workspace

logger = logging.getLogger(__name__)


# --- a wave job ------------------------------------------------------------------------------


def run_wave(wave_id: str, shard: int = 0, shards: int = 1) -> dict[str, int]:
    """Run this shard's runnable atoms of a wave, then advance the masterplan if the wave is
    done. Returns counts of what this job did."""
    close_old_connections()
    with transaction.atomic():
        wave = (
            # No key update: the ledger rows of the wave's atoms running in other shards
            # reference the wave, and need not wait for this.
            Wave.objects.select_for_update(of=("self",), no_key=True)
            .select_related("masterplan")
            .get(pk=wave_id)
        )
        if wave.masterplan.status != MasterPlan.Status.RUNNING:
            return {"ran": 0}
        if wave.status == Wave.Status.PENDING:
            wave.status = Wave.Status.RUNNING
            wave.started_at = timezone.now()
            wave.save(update_fields=["status", "started_at"])
        # Released after its last attempt (its worker died, or the provider did not
        # answer): nothing may claim it again.
        wave.atoms.filter(
            status__in=Atom.RUNNABLE_STATUSES, attempts__gte=F("max_attempts")
        ).update(
            status=Atom.Status.FAILED,
            last_error=Concat(
                Value("no attempts left: "),
                Coalesce(
                    NullIf("last_error", Value("")),
                    Value("its worker stopped during the last one"),
                    output_field=TextField(),
                ),
                output_field=TextField(),
            ),
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
    contexts = build_contexts(wave, atoms)
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
        DatabaseLane() as db,
        LeaseKeeper(db) as leases,
        ThreadPoolExecutor(max_workers=threads) as pool,
    ):
        # The atoms that get a slot at once: claimed in one statement, so they do not
        # queue behind each other's claims. The rest claim theirs when they get a slot.
        claimed_together = db.run(claim_atoms, atom_ids[: min(limit, ramp_up.admitted)])
        for atom_id in claimed_together:  # running already: their leases must not lapse
            leases.add(atom_id)

        def admitted_run(index: int, atom_id: uuid.UUID) -> str:
            atom = atoms[atom_id]
            with events.observed(_scope(atom), db.run):
                events.emit("queued", shard=shard, position=index)
                waiting = time.perf_counter()
                ramp_up.wait_turn(index)
                events.emit("ramp_up_turn", duration_ms=(time.perf_counter() - waiting) * 1000)
                try:
                    with slot_held(str(atom.masterplan_id)):
                        return run_atom(
                            atom, contexts[atom_id], db, leases, atom_id in claimed_together
                        )
                finally:
                    ramp_up.done()

        try:
            for outcome in pool.map(admitted_run, range(len(atom_ids)), atom_ids):
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
        finally:
            # What listeners hold for the lane (traces written together) goes through it
            # before it closes.
            events.flush(db.run)
    lifecycle.wave_done(wave_id)
    return outcomes


# --- one atom ----------------------------------------------------------------------------------


def run_atom(
    atom: Atom,
    context: AtomContext,
    db: DatabaseLane,
    leases: LeaseKeeper,
    claimed: bool = False,
) -> str:
    """Claim the atom, write it with the LLM (retrying with feedback), record the outcome."""
    if not claimed and not db.run(claim_atoms, [atom.pk]):
        events.finish("skipped")
        return "skipped"
    atom.attempts += 1  # the claim counted the first attempt
    leases.add(atom.pk)
    events.emit("started", attempt=atom.attempts, claimed_with_others=claimed)
    events.emit(
        "context_built",
        score=context.score,
        files=[file.file_path for file in context.files],
        dependencies=context.dependencies,
        retrieved=[f"{chunk.kind}:{chunk.source}" for chunk in context.retrieved],
        names=context.names,
        names_found=context.names_found,
        cache_hit=context.cache_hit,
    )
    try:
        return _write_atom(atom, context, db)
    except Exception as error:
        # One atom's surprise must not take its wave job (and the other atoms) down.
        logger.exception("atom %s failed unexpectedly", atom.pk)
        message = f"internal error: {type(error).__name__}: {error}"
        events.finish("failed", error=message)
        return db.run(
            _finish_atom, atom, Atom.Status.FAILED, None, time.perf_counter(), 0, 0, "", message,
        )  # fmt: skip
    finally:
        leases.discard(atom.pk)


def _scope(atom: Atom) -> events.Scope:
    return events.Scope(
        kind="atom",
        masterplan_id=str(atom.masterplan_id),
        atom_id=str(atom.pk),
        wave_id=str(atom.wave_id),
        attributes={
            "name": atom.name, "file_path": atom.file_path, "language": atom.language,
            "complexity": atom.complexity, "model": atom.model_name,
        },
    )  # fmt: skip


def _count_attempt(atom_id: uuid.UUID, attempts: int) -> None:
    Atom.objects.filter(pk=atom_id, status=Atom.Status.RUNNING).update(attempts=attempts)


def _count_provider_retry(atom_id: uuid.UUID, count: int) -> None:
    Atom.objects.filter(pk=atom_id, status=Atom.Status.RUNNING).update(provider_retries=count)


def _write_atom(atom: Atom, context: AtomContext, db: DatabaseLane) -> str:
    started = time.perf_counter()

    def request_for(errors: Sequence[str]) -> LLMRequest:
        prompt = atom_prompt(
            masterplan_name=atom.masterplan.name, atom_name=atom.name,
            file_path=atom.file_path, language=atom.language, spec=atom.description,
            context=context.files, previous_errors=errors, retrieved=context.retrieved,
        )  # fmt: skip
        return LLMRequest(
            model=atom.model_name,
            system=SYSTEM_PROMPTS[atom.language],
            shared_context=context.shared,
            messages=[{"role": "user", "content": prompt}],
            max_tokens=settings.MGE_LLM_MAX_TOKENS,
            masterplan_id=str(atom.masterplan_id),
            atom_id=str(atom.pk),
            wave_id=str(atom.wave_id),
            template_version=ATOM_PROMPT_VERSION,
        )

    outcome = generate_code(
        request_for,
        language=atom.language,
        validate=passes_l1(atom.language, atom.file_path),
        max_attempts=atom.max_attempts,
        first_attempt=atom.attempts,  # the claim counted this one
        run_db=db.run,
        # Counted before the call: an atom whose worker dies mid-call has used it.
        before_retry=lambda attempt: db.run(_count_attempt, atom.pk, attempt),
        on_provider_retry=lambda count: db.run(_count_provider_retry, atom.pk, count),
    )
    if isinstance(outcome.stopped_by, CallRefused):
        # The guard paused the plan (the budget): the atom waits for the resume.
        events.finish("released", error=str(outcome.stopped_by))
        return db.run(_release_atom, atom.pk, outcome.cost_usd)
    if outcome.stopped_by is not None and outcome.stopped_by.transient:
        # The provider stayed down past the atom's retry budget. Failing would block its
        # dependants, and the next atoms would fail the same way: the plan waits for the
        # provider instead (a probe resumes it).
        events.finish("waiting", error=outcome.errors[-1])
        return db.run(_wait_for_provider, atom, outcome)
    error = outcome.errors[-1] if outcome.errors else "no attempts left"
    status, code, placeholder = Atom.Status.FAILED, "", False
    if outcome.code is not None:
        try:
            _write_file(Path(atom.masterplan.workspace_path), atom.file_path, outcome.code)
        except WorkspacePathError as refused:
            error = f"refused to write {atom.file_path}: {refused}"
        else:
            status, code, error = Atom.Status.COMPLETED, outcome.code, ""
            placeholder = outcome.placeholder
            events.emit("file_written", path=atom.file_path, bytes=len(code.encode()))
    if status == Atom.Status.COMPLETED:
        events.finish("requires_review" if placeholder else "completed")
    else:
        events.finish("failed", error=error)
    return db.run(
        _finish_atom, atom, status, outcome.attempts, started, outcome.input_tokens,
        outcome.output_tokens, code, error, outcome.cost_usd, placeholder,
    )  # fmt: skip


def _release_atom(atom_id: uuid.UUID, cost: Decimal) -> str:
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


def _wait_for_provider(atom: Atom, outcome: Generated) -> str:
    """Back to pending, the attempt counted (it reached the provider: an atom the provider
    always errs on cannot pause and resume its plan for ever), and the plan paused."""
    error = outcome.errors[-1]
    Atom.objects.filter(pk=atom.pk, status=Atom.Status.RUNNING).update(
        status=Atom.Status.PENDING,
        cost_usd=F("cost_usd") + outcome.cost_usd,
        started_at=None,
        lease_expires_at=None,
        last_error=f"the provider did not answer: {error}",
    )
    since = dt.datetime.fromtimestamp(outcome.provider_trouble_since or time.time(), dt.UTC)
    lifecycle.pause_for_provider(
        atom.masterplan_id,
        f"Paused: the provider has not answered since {since:%Y-%m-%d %H:%M:%S} UTC "
        f"({error}). It is asked again every {settings.MGE_LLM_PROBE_SECONDS} s and the plan "
        "resumes once it answers; resume to try at once.",
    )
    return "waiting"


def _write_file(workspace: Path, relative_path: str, code: str) -> None:
    target = resolve_in_workspace(workspace, relative_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename: a reader (tests, the page) never sees half a file.
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(code if code.endswith("\n") else code + "\n")
    os.replace(temporary, target)


_FINISH = f"""
UPDATE {Atom._meta.db_table}
SET status = %s, cost_usd = cost_usd + %s, attempts = COALESCE(%s, attempts),
    generated_code = %s, placeholder = %s, last_error = %s, input_tokens = input_tokens + %s,
    output_tokens = output_tokens + %s, execution_time_seconds = %s, finished_at = %s,
    lease_expires_at = NULL
WHERE id = %s AND status = %s
"""


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
    placeholder: bool = False,
) -> str:
    """Record the atom's outcome, if it still runs here. One statement written out: the
    ORM's update with F() expressions cost five times its CPU, once per atom."""
    fields = Atom._meta
    finished_at = fields.get_field("finished_at").get_db_prep_value(timezone.now(), connection)
    atom_id = fields.pk.get_db_prep_value(atom.pk, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            _FINISH,
            [status, cost, attempts, code, placeholder, error, input_tokens, output_tokens,
             round(time.perf_counter() - started, 3), finished_at, atom_id,
             Atom.Status.RUNNING],
        )  # fmt: skip
    return status
