"""A masterplan really runs: RQ worker, wave jobs, atoms through the gateway."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db.models import F

from conftest import engine_db
from execution.models import Atom, MasterPlan, Wave
from execution.runtime.lifecycle import start_masterplan
from execution.tests.test_masterplan_format import MINIMAL, replace_in


def atoms_by_name(masterplan: MasterPlan) -> dict[str, Atom]:
    return {atom.name: atom for atom in masterplan.atoms.all()}


@engine_db
@pytest.mark.parametrize("name", ["slugkit", "typed-event-bus", "inventory-service"])
def test_an_example_runs_to_completed_and_writes_its_files(
    imported, fast_offline, run_jobs, settings, name
):
    masterplan = imported(name)
    start_masterplan(masterplan.pk)
    run_jobs()

    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED
    assert masterplan.started_at and masterplan.finished_at
    workspace = Path(masterplan.workspace_path)
    assert workspace.is_relative_to(settings.MGE_WORKSPACE_ROOT)
    for atom in masterplan.atoms.all():
        assert atom.status == Atom.Status.COMPLETED
        assert atom.attempts == 1
        assert atom.input_tokens > 0 and atom.output_tokens > 0
        assert (workspace / atom.file_path).read_text() == atom.generated_code.rstrip() + "\n"
    assert set(masterplan.waves.values_list("status", flat=True)) == {Wave.Status.COMPLETED}


@engine_db
def test_the_anthropic_sdk_path_parses_usage_and_retries_429_and_529(
    imported, stub_server, run_jobs
):
    stub_server.configure(scheduled_statuses=[429, 529])
    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    run_jobs()

    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED
    stats = stub_server.stats
    assert stats.by_status[429] == 1 and stats.by_status[529] == 1
    assert stats.by_status[200] == 6
    slugify = atoms_by_name(masterplan)["slugify"]
    assert slugify.attempts == 1  # the SDK's retries are not our attempts
    assert slugify.input_tokens > 50 and slugify.output_tokens > 5
    # The dependencies' code was part of the prompt.
    assert "slugkit/folding.py" in stats.last_prompt_by_atom["slugify"]


@engine_db
def test_bad_answers_are_retried_with_the_errors_fed_back(imported, stub_server, run_jobs):
    stub_server.configure(
        atom_texts={
            "fold_accents": [
                "Sure! Here is how I would do it, in prose only.",
                "```python\ndef fold_accents(text:\n    return text\n```",
            ]
        }
    )
    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    run_jobs()

    fold = atoms_by_name(masterplan)["fold_accents"]
    assert fold.status == Atom.Status.COMPLETED
    assert fold.attempts == 3
    last_prompt = stub_server.stats.last_prompt_by_atom["fold_accents"]
    assert "attempt 1: the answer has no code block" in last_prompt
    assert "attempt 2: slugkit/folding.py does not parse: line 1" in last_prompt


@engine_db
def test_an_atom_that_never_parses_fails_after_max_attempts(imported, stub_server, run_jobs):
    stub_server.configure(atom_texts={"split_words": ["```python\ndef (:\n```"] * 3})
    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    run_jobs()

    split = atoms_by_name(masterplan)["split_words"]
    assert split.status == Atom.Status.FAILED
    assert split.attempts == 3
    assert split.last_error.startswith("slugkit/words.py does not parse: line 1")
    assert stub_server.stats.calls_by_atom["split_words"] == 3


@engine_db
def test_a_symlink_planted_in_the_workspace_cannot_redirect_a_write(
    imported, fast_offline, run_jobs, tmp_path
):
    masterplan = imported("slugkit")
    outside = tmp_path / "outside"
    outside.mkdir()
    workspace = Path(masterplan.workspace_path)
    workspace.mkdir(parents=True)
    (workspace / "slugkit").symlink_to(outside)

    start_masterplan(masterplan.pk)
    run_jobs()

    assert list(outside.iterdir()) == []
    fold = atoms_by_name(masterplan)["fold_accents"]
    assert fold.status == Atom.Status.FAILED
    assert "resolves outside the workspace" in fold.last_error


@engine_db
def test_a_job_run_twice_does_not_run_a_completed_atom_again(imported, stub_server, run_jobs):
    from execution.runtime.engine import run_wave

    masterplan = imported("slugkit")
    start_masterplan(masterplan.pk)
    run_jobs()
    first_wave = masterplan.waves.get(number=1)
    calls = stub_server.stats.requests

    run_wave(str(first_wave.pk))  # a duplicate delivery of the same job

    assert stub_server.stats.requests == calls


@engine_db
def test_large_waves_are_sharded_into_several_jobs(imported, fast_offline, run_jobs, settings):
    settings.MGE_WAVE_SHARD_SIZE = 2
    masterplan = imported("inventory-service")  # wave 1 has 5 atoms
    result = start_masterplan(masterplan.pk)
    assert len(result.job_ids) == 3
    run_jobs()
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED


@engine_db
def test_a_plan_with_no_dependencies_is_one_wave(fast_offline, run_jobs):
    from execution.actions import import_masterplan

    masterplan = import_masterplan(replace_in(MINIMAL, "depends_on: [a]", "depends_on: []"))
    assert masterplan.waves.count() == 1
    start_masterplan(masterplan.pk)
    run_jobs()
    masterplan.refresh_from_db()
    assert masterplan.status == MasterPlan.Status.COMPLETED


@pytest.mark.django_db
def test_the_plan_never_advances_past_a_wave_whose_atoms_still_run(
    imported, django_capture_on_commit_callbacks
):
    import django_rq

    from execution.runtime.lifecycle import advance

    masterplan = imported("slugkit")
    MasterPlan.objects.filter(pk=masterplan.pk).update(status=MasterPlan.Status.RUNNING)
    first_wave = masterplan.atoms.filter(wave__number=1)
    first_wave.update(status=Atom.Status.COMPLETED)
    first_wave.filter(name="fold_accents").update(status=Atom.Status.RUNNING)
    with django_capture_on_commit_callbacks(execute=True):
        advance(masterplan.pk)
    assert django_rq.get_queue("waves").count == 0  # wave 2 needs fold_accents first
    assert masterplan.waves.get(number=1).status == Wave.Status.PENDING


@engine_db
@pytest.mark.parametrize("claim_in", ["one statement", "a transaction"])
def test_an_atom_is_claimed_once_and_only_while_it_may_run(imported, claim_in):
    import threading

    from django.db import connection, transaction

    from execution.runtime import claims

    # PostgreSQL's one statement, and the ORM transaction SQLite (`make run`) uses.
    _claim_atoms = {
        "one statement": claims._claim_in_one_statement,
        "a transaction": claims._claim_in_a_transaction,
    }[claim_in]

    masterplan = imported("slugkit")
    MasterPlan.objects.filter(pk=masterplan.pk).update(status=MasterPlan.Status.RUNNING)
    first, second, spent, *_ = masterplan.atoms.order_by("source_line")
    Atom.objects.filter(pk=spent.pk).update(attempts=F("max_attempts"))

    # Another job holds the first atom's row: this claim skips it rather than waiting.
    locked, release = threading.Event(), threading.Event()

    def hold_the_row() -> None:
        with transaction.atomic():
            Atom.objects.select_for_update().get(pk=first.pk)
            locked.set()
            release.wait(10)
        connection.close()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    assert locked.wait(10)
    assert _claim_atoms([first.pk, second.pk, spent.pk]) == {second.pk}
    release.set()
    holder.join()

    assert _claim_atoms([first.pk, second.pk]) == {first.pk}  # the second runs already
    claimed = Atom.objects.get(pk=first.pk)
    assert (claimed.status, claimed.attempts) == (Atom.Status.RUNNING, 1)
    assert claimed.lease_expires_at is not None and claimed.started_at is not None

    third = masterplan.atoms.order_by("source_line")[3]
    MasterPlan.objects.filter(pk=masterplan.pk).update(status=MasterPlan.Status.PAUSED)
    assert _claim_atoms([third.pk]) == set()  # nothing is claimed in a paused plan
    assert claims.claim_atoms([]) == set()
